import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshotError } from '@pypi-graph/core';

/** One node of a published tree, as both the tarball and the NAR see it. */
export type TreeNode =
  | { type: 'file'; name: string; absPath: string; size: number; executable: boolean }
  | { type: 'directory'; name: string; absPath: string; children: TreeNode[] };

/** Byte order of the UTF-8 names: what Nix's NAR (a std::map of names) and our tarball use. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Reads a directory tree into memory (names and sizes only), children sorted by name. Only
 * regular files and directories are allowed: a snapshot has no links or devices.
 */
export async function readTree(dir: string, name = ''): Promise<TreeNode & { type: 'directory' }> {
  const entries = await readdir(dir, { withFileTypes: true });
  const children: TreeNode[] = [];
  for (const entry of entries.sort((a, b) => compareNames(a.name, b.name))) {
    const absPath = join(dir, entry.name);
    if (entry.isDirectory()) {
      children.push(await readTree(absPath, entry.name));
    } else if (entry.isFile()) {
      const stat = await lstat(absPath);
      children.push({
        type: 'file',
        name: entry.name,
        absPath,
        size: stat.size,
        executable: (stat.mode & 0o100) !== 0,
      });
    } else {
      throw snapshotError('snapshot-failed', `only files and directories can be published: ${absPath}`);
    }
  }
  return { type: 'directory', name, absPath: dir, children };
}
