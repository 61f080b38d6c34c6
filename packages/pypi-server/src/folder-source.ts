import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { configError, type Logger, silentLogger } from '@pypi-graph/core';
import {
  type CoreMetadata,
  packageTypeOf,
  parseCoreMetadata,
  parseSdistFilename,
  parseWheelFilename,
} from '@pypi-graph/pyspec';
import { archiveKindOf, readArchiveMetadata } from './archive-metadata';
import type { FileContent, FileStat, ProjectDirective, ReleaseDirective, UploadSpec } from './index-model';
import { statOf } from './index-model';
import { MANIFEST_NAME, type ParsedManifest, parseManifest } from './manifest';
import { parseIsoMicros } from './times';

// Every sdist and wheel under a folder becomes an upload. Project name and version come from
// the archive's core metadata (Name, Version), else from the file name; upload times from
// the manifest, else a deterministic default (not file mtimes, which differ per git clone).

/** 2020-01-01T00:00:00Z: default upload times count minutes from here. */
export const DEFAULT_EPOCH_US = parseIsoMicros('2020-01-01T00:00:00Z')!;

export interface FolderIndexInput {
  uploads: UploadSpec[];
  releases: Map<string, ReleaseDirective>;
  projects: Map<string, ProjectDirective>;
}

interface Scanned {
  path: string;
  filename: string;
  name: string;
  version: string;
  stat: FileStat;
  metadataBytes?: Buffer;
  metadata?: CoreMetadata;
  pythonVersion: string;
}

export async function scanFolder(dir: string, log: Logger = silentLogger): Promise<FolderIndexInput> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw configError('config-invalid', `--dir ${dir} is not a directory`);
  }
  let manifest: ParsedManifest = { files: new Map(), releases: new Map(), projects: new Map() };
  const manifestPath = join(dir, MANIFEST_NAME);
  const manifestText = await readFile(manifestPath, 'utf8').catch(() => undefined);
  if (manifestText !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(manifestText);
    } catch (err) {
      throw configError('config-invalid', `${manifestPath} is not JSON: ${(err as Error).message}`);
    }
    manifest = parseManifest(json, manifestPath);
  }

  const scanned: Scanned[] = [];
  const seen = new Map<string, string>();
  for (const path of await walk(dir)) {
    const filename = path.slice(path.lastIndexOf('/') + 1);
    if (!archiveKindOf(filename)) continue;
    const earlier = seen.get(filename);
    if (earlier) {
      log.warn({ path: relative(dir, path), earlier: relative(dir, earlier) }, 'duplicate file name skipped');
      continue;
    }
    const item = await scanFile(path, filename, log);
    if (!item) continue;
    seen.set(filename, path);
    scanned.push(item);
  }

  // Deterministic default upload times: (normalized project, file name) order, one minute apart.
  const ordered = [...scanned].sort((a, b) => {
    const pa = normalize(a.name);
    const pb = normalize(b.name);
    return pa < pb ? -1 : pa > pb ? 1 : a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0;
  });
  const used = new Set<string>();
  const uploads = ordered.map((s, i): UploadSpec => {
    const key = s.filename.normalize('NFC');
    const o = manifest.files.get(key);
    if (o) used.add(key);
    return {
      filename: s.filename,
      name: s.name,
      version: s.version,
      uploadTimeUs: o?.uploadTimeUs ?? DEFAULT_EPOCH_US + i * 60_000_000,
      packagetype: packageTypeOf(s.filename),
      pythonVersion: s.pythonVersion,
      requiresPython: s.metadata?.get('Requires-Python') || null,
      fileRequiresPython: o?.requiresPython,
      yanked: o?.yanked,
      removedAtUs: o?.removedAtUs,
      hasMetadataFile: s.pythonVersion !== 'source' && s.metadataBytes !== undefined,
      content: diskContent(s),
    };
  });
  for (const key of manifest.files.keys()) {
    if (!used.has(key)) log.warn({ filename: key }, 'manifest names a file that is not in the folder');
  }
  log.info({ dir, files: uploads.length }, 'folder scanned');
  return { uploads, releases: manifest.releases, projects: manifest.projects };
}

const normalize = (name: string) => name.replace(/[-_.]+/g, '-').toLowerCase();

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      for (const inner of await walk(path)) out.push(inner);
    } else if (e.isFile()) out.push(path);
  }
  return out;
}

async function scanFile(path: string, filename: string, log: Logger): Promise<Scanned | undefined> {
  const bytes = await readFile(path);
  const metadataBytes = await readArchiveMetadata(filename, bytes);
  let metadata: CoreMetadata | undefined;
  if (metadataBytes) {
    try {
      metadata = parseCoreMetadata(metadataBytes);
    } catch {
      metadata = undefined;
    }
  }
  const isWheel = filename.toLowerCase().endsWith('.whl');
  let fromName: { name: string; version: string; pythonTag?: string } | undefined;
  try {
    fromName = isWheel ? parseWheelFilename(filename) : parseSdistFilename(filename, metadata?.get('Name'));
  } catch {
    fromName = undefined;
  }
  const name = metadata?.get('Name')?.trim() || fromName?.name;
  const version = metadata?.get('Version')?.trim() || fromName?.version;
  if (!name || !version) {
    log.warn({ path }, 'neither metadata nor file name give a project and version, file skipped');
    return undefined;
  }
  if (!metadata) log.debug({ filename }, 'no readable metadata, using the file name');
  return {
    path,
    filename,
    name,
    version,
    stat: statOf(bytes),
    metadataBytes: metadata ? metadataBytes : undefined,
    metadata,
    // PyPI's python_version: the wheel's python tag, "source" for sdists.
    pythonVersion: isWheel ? (fromName?.pythonTag ?? 'py3') : 'source',
  };
}

function diskContent(s: Scanned): FileContent {
  return {
    stat: async () => s.stat,
    async read(start, end) {
      const fh = await open(s.path, 'r');
      try {
        const buf = Buffer.alloc(Math.max(0, end - start));
        let off = 0;
        while (off < buf.length) {
          const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        return buf.subarray(0, off);
      } finally {
        await fh.close();
      }
    },
    metadataBytes: async () => s.metadataBytes,
    metadata: async () => s.metadata,
  };
}
