// Sdists for the sandbox tests, built at test time from the setup scripts in
// test/fixtures/sandbox/<case>/ (see the readme there).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const execFileAsync = promisify(execFile);
export const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURES = path.join(REPO, 'test/fixtures/sandbox');

/**
 * `<name>-1.0.tar.gz` of a fixture directory in `work`, plus `salt` in a file of its own (sorted,
 * mtime 0, gzip without a timestamp): a new salt is a new derivation, built afresh.
 */
export async function makeSdist(
  work: string,
  fixture: string,
  salt: string,
  name = fixture,
): Promise<{ file: string; sha256: string; filename: string }> {
  const root = path.join(work, `${name}-src`);
  const top = `${name}-1.0`;
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await cp(path.join(FIXTURES, fixture), path.join(root, top), { recursive: true });
  await writeFile(path.join(root, top, 'test-run-salt.txt'), `${salt}\n`);
  const { stdout } = await execFileAsync(
    'tar',
    ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', top],
    { cwd: root, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const gz = gzipSync(stdout);
  const filename = `${top}.tar.gz`;
  const file = path.join(work, filename);
  await writeFile(file, gz);
  return { file, sha256: createHash('sha256').update(gz).digest('hex'), filename };
}
