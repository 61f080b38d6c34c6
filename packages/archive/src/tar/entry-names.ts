import { archiveError } from '@pypi-graph/core';

/** `/x`, `\\x` and `C:x` are absolute somewhere. */
function isAbsolute(name: string): boolean {
  return name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name);
}

/**
 * A backslash is a separator on Windows, so `a\\..\\..\\x` climbs there; elsewhere it is a legal
 * file name character (real sdists have such names), so only `..` between backslashes is refused.
 */
function climbsByBackslash(name: string): boolean {
  return name.split('/').some((c) => c.includes('\\') && c.split('\\').includes('..'));
}

/**
 * The name an entry is known by: `./` prefixes, repeated and trailing slashes dropped. Throws
 * `archive-path-traversal` for an absolute name (`/x`, `C:x`, `\\x`) or a `..` component (also
 * between backslashes), and `archive-corrupt` for a NUL or an empty name.
 */
export function normalizeEntryName(raw: string): string {
  if (raw.includes('\0')) throw archiveError('archive-corrupt', 'entry name with a NUL byte');
  if (isAbsolute(raw)) {
    throw archiveError(
      'archive-path-traversal',
      `absolute or Windows path in the archive: ${JSON.stringify(raw)}`,
      {
        details: { name: raw },
      },
    );
  }
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || climbsByBackslash(raw)) {
    throw archiveError(
      'archive-path-traversal',
      `entry name climbs out of the archive: ${JSON.stringify(raw)}`,
      {
        details: { name: raw },
      },
    );
  }
  if (parts.length === 0) return '';
  return parts.join('/');
}

/**
 * Checks a link target. A symlink's target is relative to the link's directory, a hardlink's to
 * the archive root (tar semantics); either must stay inside the tree. Absolute targets and targets
 * that climb out are `archive-link`: extracting them (the sandbox does) would reach host files.
 */
export function checkLinkTarget(name: string, target: string, kind: 'symlink' | 'hardlink'): void {
  const fail = () =>
    archiveError(
      'archive-link',
      `${kind} ${JSON.stringify(name)} points out of the tree: ${JSON.stringify(target)}`,
      {
        details: { name, target, kind },
      },
    );
  if (target === '' || target.includes('\0')) throw fail();
  if (isAbsolute(target) || climbsByBackslash(target)) throw fail();
  const stack = kind === 'symlink' ? name.split('/').slice(0, -1) : [];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) throw fail();
      stack.pop();
    } else stack.push(part);
  }
  // A target that resolves to nothing (`a/..`) or to the archive's top is no file inside the tree.
  if (stack.length === 0) throw fail();
}

/** Tracks the single top-level directory of an archive. */
export class RootTracker {
  private first: string | undefined;
  private single = true;

  add(name: string): void {
    if (name === '') return;
    const slash = name.indexOf('/');
    const top = slash < 0 ? name : name.slice(0, slash);
    // A regular file at the top level (`setup.py` beside `pkg-1.0/`) also breaks the single root.
    if (this.first === undefined) this.first = top;
    else if (this.first !== top) this.single = false;
  }

  addFileAtTop(name: string): void {
    if (!name.includes('/')) this.single = false;
  }

  get root(): string | null {
    return this.single && this.first !== undefined ? this.first : null;
  }
}

/** Hops through links before a chain is called a loop (Linux's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/**
 * Resolves every link of the archive as extraction would, through the other symlinks: each one
 * lexically inside the tree is not enough (`a -> .`, then `b -> a/a/../..` climbs out). Throws
 * `archive-link` for a link that leaves the tree or a chain longer than 40 hops.
 * `symlinks` maps a link's name to its target (relative to the link's directory); `hardlinks`
 * targets are archive names (relative to the top).
 */
export function checkLinksResolveInside(
  symlinks: ReadonlyMap<string, string>,
  hardlinks: ReadonlyMap<string, string>,
): void {
  let hops = 0;
  const fail = (name: string, target: string, why: string) =>
    archiveError('archive-link', `link ${JSON.stringify(name)} → ${JSON.stringify(target)} ${why}`, {
      details: { name, target },
    });
  // Walks `target` from directory `base`; returns the resolved components (never above the top).
  const walk = (origin: string, base: string[], target: string): string[] => {
    const stack = [...base];
    const parts = target.split('/');
    for (const part of parts) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 0) throw fail(origin, target, 'climbs out of the tree');
        stack.pop();
        continue;
      }
      stack.push(part);
      const via = symlinks.get(stack.join('/'));
      if (via !== undefined) {
        if (++hops > MAX_LINK_HOPS * (symlinks.size + hardlinks.size + 1))
          throw fail(origin, target, 'loops');
        const resolved = walkBounded(origin, stack.slice(0, -1), via);
        stack.length = 0;
        stack.push(...resolved);
      }
    }
    return stack;
  };
  let depth = 0;
  const walkBounded = (origin: string, base: string[], target: string): string[] => {
    if (++depth > MAX_LINK_HOPS) throw fail(origin, target, 'is a chain of more than 40 links');
    try {
      return walk(origin, base, target);
    } finally {
      depth--;
    }
  };
  for (const [name, target] of symlinks) {
    const resolved = walkBounded(name, name.split('/').slice(0, -1), target);
    if (resolved.length === 0) throw fail(name, target, 'points at the top of the tree');
  }
  for (const [name, target] of hardlinks) {
    const resolved = walkBounded(name, [], target);
    if (resolved.length === 0) throw fail(name, target, 'points at the top of the tree');
  }
}
