import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { bufferRandomAccess, openZip } from '@pypi-graph/archive';
import * as tar from 'tar-stream';
import unbzip2 from 'unbzip2-stream';

// Reads the core metadata file out of an archive the way PyPI learns a file's project and
// version: a wheel's `<name>-<version>.dist-info/METADATA`, an sdist's top-level
// `<name>-<version>/PKG-INFO`. The server only trusts local files, but reads them with caps
// anyway: archives in the fixtures are deliberately broken. Zips are read by the crawler's own
// reader (packages/archive, every check: a CRC or a local header that disagrees fails it), so
// the server offers a `.metadata` file only for a wheel the crawler could read itself.
// https://packaging.python.org/en/latest/specifications/binary-distribution-format/
// https://packaging.python.org/en/latest/specifications/source-distribution-format/

/** Core metadata larger than this is treated as absent. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;
/** Entries looked at before giving up on a tarball. */
const MAX_TAR_ENTRIES = 100_000;

export type ArchiveKind = 'wheel' | 'zip' | 'tar.gz' | 'tar.bz2';

export function archiveKindOf(filename: string): ArchiveKind | undefined {
  const lower = filename.toLowerCase();
  if (lower.endsWith('.whl')) return 'wheel';
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.tar.bz2')) return 'tar.bz2';
  return undefined;
}

/**
 * The METADATA / PKG-INFO bytes of an archive, or undefined when the archive does not open
 * or has none. Never throws.
 */
export async function readArchiveMetadata(filename: string, bytes: Buffer): Promise<Buffer | undefined> {
  const kind = archiveKindOf(filename);
  try {
    if (kind === 'wheel') return await readZipMember(bytes, isWheelMetadata);
    if (kind === 'zip') return await readZipMember(bytes, isSdistPkgInfo);
    if (kind === 'tar.gz') return await readTarMember(Readable.from([bytes]).pipe(createGunzip()));
    if (kind === 'tar.bz2') return await readTarMember(Readable.from([bytes]).pipe(unbzip2()));
  } catch {
    // A broken archive is still a file of the index; the caller falls back to its file name.
  }
  return undefined;
}

// `<anything>.dist-info/METADATA` at the top level of the wheel.
function isWheelMetadata(path: string): boolean {
  return /^[^/]+\.dist-info\/METADATA$/.test(path);
}

// `<dir>/PKG-INFO`, exactly one level down (not the copies in `*.egg-info/`).
function isSdistPkgInfo(path: string): boolean {
  return /^[^/]+\/PKG-INFO$/.test(path.replace(/^\.\//, ''));
}

// The first wanted entry within the cap, as the server always picked it.
async function readZipMember(bytes: Buffer, wanted: (path: string) => boolean): Promise<Buffer | undefined> {
  const zip = await openZip(bufferRandomAccess(bytes));
  const entry = zip.entries.find((e) => wanted(e.name) && e.uncompressedSize <= MAX_METADATA_BYTES);
  return entry ? await zip.readEntry(entry, { maxBytes: MAX_METADATA_BYTES }) : undefined;
}

function readTarMember(input: Readable): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const extract = tar.extract();
    let seen = 0;
    let done = false;
    const finish = (err: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      input.destroy();
      extract.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    extract.on('entry', (header, stream, next) => {
      seen++;
      if (seen > MAX_TAR_ENTRIES) return finish(null, undefined);
      if (header.type === 'file' && isSdistPkgInfo(header.name) && (header.size ?? 0) <= MAX_METADATA_BYTES) {
        collect(stream as unknown as Readable, MAX_METADATA_BYTES).then(
          (buf) => finish(null, buf),
          (err: Error) => finish(err),
        );
        return;
      }
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', () => finish(null, undefined));
    extract.on('error', (err: Error) => finish(err));
    input.on('error', (err: Error) => finish(err));
    input.pipe(extract);
  });
}

async function collect(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) throw new Error('metadata too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
