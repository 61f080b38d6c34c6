import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { narSha256, nixBase32, sriSha256 } from '../src/index';
import { hasCommand, prng, tempDir } from './helpers';

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('nixBase32', () => {
  it('prints the sha256 of the empty string as Nix does', () => {
    // `nix-hash --type sha256 --to-base32 e3b0c442…b855`
    const empty = createHash('sha256').digest();
    expect(nixBase32(empty)).toBe('0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73');
    expect(sriSha256(empty)).toBe('sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });
});

describe.skipIf(!hasCommand('nix-hash'))('against nix-hash', () => {
  it('converts random digests like nix-hash --to-base32', () => {
    const rand = prng(3);
    const digests = Array.from({ length: 20 }, () =>
      Buffer.from(Array.from({ length: 32 }, () => Math.floor(rand() * 256))),
    );
    const nix = execFileSync(
      'nix-hash',
      ['--type', 'sha256', '--to-base32', ...digests.map((d) => d.toString('hex'))],
      {
        encoding: 'utf8',
      },
    )
      .trim()
      .split('\n');
    expect(digests.map(nixBase32)).toEqual(nix);
  });

  it('hashes a directory exactly like nix-hash (NAR serialisation)', async () => {
    const dir = join(tmp.path, 'tree');
    await mkdir(join(dir, 'sub/deeper'), { recursive: true });
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'a'), 'x'); // needs padding
    await writeFile(join(dir, 'B'), '12345678'); // no padding; sorts before lower case
    await writeFile(join(dir, '_u'), '');
    await writeFile(join(dir, 'sub/deeper/data.json'), '{\n  "k": "v"\n}');
    await writeFile(join(dir, 'sub/tool'), '#!/bin/sh\n');
    await chmod(join(dir, 'sub/tool'), 0o755);
    await writeFile(join(dir, 'sub/big'), Buffer.alloc(200_001, 0xab));

    const digest = await narSha256(dir);
    const base32 = execFileSync('nix-hash', ['--type', 'sha256', '--base32', dir], {
      encoding: 'utf8',
    }).trim();
    const base16 = execFileSync('nix-hash', ['--type', 'sha256', dir], { encoding: 'utf8' }).trim();
    expect(nixBase32(digest)).toBe(base32);
    expect(digest.toString('hex')).toBe(base16);
    expect(sriSha256(digest)).toBe('sha256-' + Buffer.from(base16, 'hex').toString('base64'));

    // The executable bit is part of the hash.
    await chmod(join(dir, 'sub/tool'), 0o644);
    const plain = await narSha256(dir);
    expect(plain.equals(digest)).toBe(false);
    expect(nixBase32(plain)).toBe(
      execFileSync('nix-hash', ['--type', 'sha256', '--base32', dir], { encoding: 'utf8' }).trim(),
    );
  });
});
