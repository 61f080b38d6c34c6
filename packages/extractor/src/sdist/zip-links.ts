import {
  checkLinksResolveInside,
  checkLinkTarget,
  DEFAULT_SDIST_LIMITS,
  normalizeEntryName,
  openFileRandomAccess,
  openZip,
  type SdistLimits,
} from '@pypi-graph/archive';
import { CrawlError } from '@pypi-graph/core';

// Symlinks in `.zip` sdists. A zip has no link entry type: Info-ZIP's `zip -y` (and Python's
// zipfile when asked) stores a symlink as an entry whose data is the target and whose external
// attributes carry the Unix mode S_IFLNK in their upper 16 bits; `unzip` recreates the link.
// The tar scanner refuses links out of the tree (`archive-link`); this applies the same rules,
// from packages/archive, to zip entries. (The zip reader there does not expose the external
// attributes, so the central directory is walked here once more for them alone.)

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const CENTRAL_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_BYTES = 46;

/** The Unix mode (upper 16 bits of the external attributes) of every central directory record, in order. */
export function zipUnixModes(cd: Buffer, count: number): number[] {
  const modes: number[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_BYTES > cd.length || cd.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw new CrawlError('archive-corrupt', `central directory record ${i} not where expected`);
    }
    modes.push(cd.readUInt32LE(at + 38) >>> 16);
    at +=
      CENTRAL_HEADER_BYTES + cd.readUInt16LE(at + 28) + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
  }
  return modes;
}

/** Whether a Unix mode is a symlink's. */
export function isSymlinkMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFLNK;
}

/**
 * Checks the symlinks of a `.zip` sdist as the tar scanner checks tar links: each target must
 * stay inside the tree, also through other links (`archive-link`); a target longer than
 * `maxNameBytes` is `archive-unsupported`. Returns the links found (name → target).
 */
export async function checkZipSdistLinks(
  path: string,
  limits: Partial<SdistLimits> = {},
): Promise<Map<string, string>> {
  const caps = { ...DEFAULT_SDIST_LIMITS, ...limits };
  const source = await openFileRandomAccess(path);
  try {
    const zip = await openZip(source, {
      limits: {
        maxEntries: caps.maxEntries,
        maxNameBytes: caps.maxNameBytes,
        maxCompressionRatio: caps.maxCompressionRatio,
        ratioExemptBytes: caps.ratioExemptBytes,
      },
    });
    const symlinks = new Map<string, string>();
    if (zip.entries.length === 0) return symlinks;
    const cd = await source.read(
      zip.centralDirectoryOffset,
      zip.centralDirectoryOffset + zip.centralDirectorySize - 1,
    );
    const modes = zipUnixModes(cd, zip.entries.length);
    for (const entry of zip.entries) {
      if (!isSymlinkMode(modes[entry.index] ?? 0)) continue;
      const name = normalizeEntryName(entry.name);
      const target = (
        await zip.readEntry(entry, { maxBytes: caps.maxNameBytes, tooLargeCode: 'archive-unsupported' })
      ).toString('utf8');
      checkLinkTarget(name, target, 'symlink');
      symlinks.set(name, target);
    }
    checkLinksResolveInside(symlinks, new Map());
    return symlinks;
  } finally {
    await source.close();
  }
}
