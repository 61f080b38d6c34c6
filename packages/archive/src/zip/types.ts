import type { FailureCode } from '@pypi-graph/core';

/** Caps on what a zip may ask of us; each one passed is a typed failure, never a crash. */
export interface ZipLimits {
  /** Most central directory entries (`archive-too-many-entries`). */
  maxEntries: number;
  /** Largest central directory in bytes (`archive-too-large`). */
  maxCentralDirectoryBytes: number;
  /** Longest entry name in bytes (`archive-unsupported`). */
  maxNameBytes: number;
  /** Highest uncompressed/compressed size ratio of an entry that is read (`archive-bomb`). */
  maxCompressionRatio: number;
  /** Entries up to this many uncompressed bytes are exempt from the ratio check. */
  ratioExemptBytes: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxEntries: 200_000,
  maxCentralDirectoryBytes: 64 * 1024 * 1024,
  maxNameBytes: 4096,
  // Deflate cannot exceed about 1032:1; real text stays far below 200:1.
  maxCompressionRatio: 200,
  ratioExemptBytes: 1024 * 1024,
});

export interface OpenZipOptions {
  /** Bytes read from the end of the file first, to find the end record (and, usually, the central directory). Default 64 KiB. */
  tailBytes?: number;
  /** Caps; each missing one takes its default. */
  limits?: Partial<ZipLimits>;
}

/** One central directory entry. Sizes and offsets are the zip64 ones when present. */
export interface ZipEntry {
  /** Position in the central directory, from 0. */
  index: number;
  /** Decoded name: UTF-8 when flagged, else code page 437 (as CPython's zipfile). */
  name: string;
  /** The name's bytes as stored. */
  rawName: Buffer;
  /** General purpose flags. */
  flags: number;
  /** 0 stored, 8 deflated; others are refused when read. */
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
  /** Length of the entry's extra field in the central directory. */
  extraLength: number;
  /** The name ends with `/`. */
  isDirectory: boolean;
  /**
   * The Unix mode in the upper 16 bits of the external attributes (0 when the archiver wrote
   * none). Info-ZIP's `zip --symlinks` stores a symlink as an entry with mode S_IFLNK whose data
   * is the target.
   */
  unixMode: number;
}

export interface ReadEntryOptions {
  /** Largest uncompressed size accepted; beyond it, `tooLargeCode` (nothing is inflated). */
  maxBytes: number;
  /** Code for an entry over `maxBytes`; `archive-too-large` by default. */
  tooLargeCode?: FailureCode;
  /**
   * Extra bytes read after the name and extra field the central directory gives, because the
   * local header's own extra field is often longer; a longer one costs a second read. Default 256.
   */
  localHeaderMargin?: number;
}

/** What `openZip` and `openZipTail` both know once the end records are read. */
interface ZipEnd {
  readonly size: number;
  /** The archive comment. */
  readonly comment: Buffer;
  /** Whether the archive has zip64 end records. */
  readonly zip64: boolean;
  readonly centralDirectoryOffset: number;
  readonly centralDirectorySize: number;
  /**
   * The entry's uncompressed bytes, checked: local header against the central directory,
   * method, size caps, compression ratio, inflated size and CRC-32.
   */
  readEntry(entry: ZipEntry, options: ReadEntryOptions): Promise<Buffer>;
}

/**
 * A zip opened from its last bytes only (`openZipTail`): the end records, and the entries of the
 * central directory those bytes hold for certain — all of them when the directory fitted, else
 * its last ones, which is where wheel builders put `.dist-info/`. `open()` reads the rest.
 */
export interface ZipTail extends ZipEnd {
  /** Entries the end record announces. */
  readonly entryCount: number;
  /** Whether `entries` is the whole central directory, checked as `openZip` checks it. */
  readonly complete: boolean;
  /**
   * When complete, every entry; otherwise the last entries of the central directory, in order,
   * with their true `index`, and only those every consistent parse of the bytes agrees on.
   * Nothing is known of the entries before them: a name missing here may still be in the archive.
   */
  readonly entries: readonly ZipEntry[];
  /** The whole archive: reads the rest of the central directory (nothing more when complete). */
  open(): Promise<ZipArchive>;
}

/** An opened zip: its directory is read and checked; entries are read on demand. */
export interface ZipArchive extends ZipEnd {
  readonly entries: readonly ZipEntry[];
}
