import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderingSourceDirs, sourceFingerprint } from '../src/code-fingerprint';
import { tempDir } from './helpers';

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

// A snapshot reuses the previous one's entries only when the code that rendered them is the
// same (the reuse data carries this fingerprint). The layouts write their bytes with pyspec
// (JSON writer, version order, the canonical spelling of requirements) and model (Python keys):
// an upgrade of either that changed a byte, if not fingerprinted, would leave yesterday's
// spelling in every unchanged project of the next incremental snapshot, which would then differ
// from a full snapshot of the same state.
describe('the code fingerprint of a snapshot', () => {
  it('covers the snapshot, pyspec and model sources', async () => {
    const dirs = renderingSourceDirs();
    const names = await Promise.all(dirs.map((d) => readdir(d)));
    expect(names[0]).toContain('publish.ts');
    expect(names[0]).toContain('sdist-layout.ts');
    expect(names.some((n) => n.includes('python-json.ts') && n.includes('pep440.ts'))).toBe(true);
    expect(dirs.some((d) => d.endsWith(join('model', 'src')))).toBe(true);
  });

  it('changes with any source file of any folder, not with files of other kinds', async () => {
    const a = join(tmp.path, 'a');
    const b = join(tmp.path, 'b');
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(a, 'x.ts'), 'export const x = 1;\n');
    await writeFile(join(b, 'y.ts'), 'export const y = 1;\n');
    const first = await sourceFingerprint([a, b], 'p');
    expect(await sourceFingerprint([a, b], 'p')).toBe(first);

    await writeFile(join(b, 'README.md'), 'not code\n');
    expect(await sourceFingerprint([a, b], 'p')).toBe(first);

    await writeFile(join(b, 'y.ts'), 'export const y = 2;\n');
    const second = await sourceFingerprint([a, b], 'p');
    expect(second).not.toBe(first);

    await writeFile(join(b, 'z.mjs'), '// a worker\n');
    expect(await sourceFingerprint([a, b], 'p')).not.toBe(second);
    expect(await sourceFingerprint([a, b], 'q')).not.toBe(await sourceFingerprint([a, b], 'p'));
  });
});
