import { compareCodePoints, pythonJsonDumps } from '@pypi-graph/pyspec';
import { MIME_SIMPLE_JSON, type SimpleFormat } from './content-negotiation';
import {
  fileRequiresPython,
  fileYank,
  type IndexFile,
  liveFiles,
  materialize,
  type Project,
} from './index-model';
import type { IndexSource } from './index-source';
import { isoformatZ } from './times';
import { fileUrl } from './urls';
import { compareVersions } from './version-order';

// The Simple Repository API, rendered like warehouse's `_simple_index` / `_simple_detail`
// (warehouse/packaging/utils.py) and templates/api/simple/{index,detail}.html.
// https://packaging.python.org/en/latest/specifications/simple-repository-api/
// PEP 503 (HTML), 592 (yanked), 629 (repository version), 658/714 (core metadata),
// 691 (JSON), 700 (versions, size, upload-time), 708 (alternate-locations), 740 (provenance).

/** The repository version warehouse announces (`meta.api-version`, `pypi:repository-version`). */
export const API_VERSION = '1.3';

// Jinja2 autoescaping (markupsafe.escape).
function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&#34;')
    .replace(/'/g, '&#39;');
}

const CHUNK = 64 * 1024;

/**
 * The `/simple/` page, written as it is read: at PyPI's size it is tens of megabytes. The same
 * bytes as rendering the whole page with pythonJsonDumps or the template.
 */
export function* renderSimpleIndex(index: IndexSource, format: SimpleFormat): Generator<string> {
  const json = format === MIME_SIMPLE_JSON;
  let out = json
    ? `{"meta":{"_last-serial":${index.lastSerial},"api-version":${pythonJsonDumps(API_VERSION)}},"projects":[`
    : '<!DOCTYPE html>\n<html lang="en">\n  <head>\n' +
      `    <meta name="pypi:repository-version" content="${API_VERSION}">\n` +
      '    <title>Simple index</title>\n  </head>\n  <body>\n';
  let first = true;
  for (const p of index.listProjectsByName()) {
    if (json) {
      out += `${first ? '' : ','}{"_last-serial":${p.lastSerial},"name":${pythonJsonDumps(p.name)}}`;
    } else {
      out += `    <a href="/simple/${escapeHtml(p.normalized)}/">${escapeHtml(p.name)}</a>\n`;
    }
    first = false;
    if (out.length >= CHUNK) {
      yield out;
      out = '';
    }
  }
  yield out + (json ? ']}' : '  </body>\n</html>\n');
}

interface DetailFile {
  filename: string;
  version: string;
  url: string;
  sha256: string;
  requiresPython: string | null;
  size: number;
  uploadTime: string;
  yanked: boolean | string;
  metadataSha256?: string;
}

/** A project's files in warehouse's order: by (version, file name). */
export async function simpleDetailFiles(project: Project, baseUrl: string): Promise<DetailFile[]> {
  const files: IndexFile[] = project.releases.flatMap((r) => liveFiles(r));
  files.sort(
    (a, b) =>
      compareVersions(a.release.version, b.release.version) || compareCodePoints(a.filename, b.filename),
  );
  const out: DetailFile[] = [];
  for (const f of files) {
    const m = await materialize(f);
    const yank = fileYank(f);
    out.push({
      filename: f.filename,
      version: f.release.version,
      url: fileUrl(baseUrl, m),
      sha256: m.stat.sha256,
      requiresPython: fileRequiresPython(f),
      size: m.stat.size,
      uploadTime: isoformatZ(f.uploadTimeUs),
      // PEP 592 / 691: the reason when there is one, else a boolean.
      yanked: yank.yanked && yank.reason ? yank.reason : yank.yanked,
      metadataSha256: m.metadataSha256,
    });
  }
  return out;
}

/**
 * A project's Simple page, written file by file: a project with twenty thousand files makes a
 * page of megabytes, and building it whole held hundreds of megabytes at once.
 */
export async function* renderSimpleDetail(
  project: Project,
  format: SimpleFormat,
  baseUrl: string,
): AsyncGenerator<string> {
  const files = await simpleDetailFiles(project, baseUrl);
  let out: string;
  if (format === MIME_SIMPLE_JSON) {
    // Warehouse lists the versions that have files (a release whose files were all removed is left out).
    const versions = [...new Set(files.map((f) => f.version))].sort(compareVersions);
    // The keys in code-point order, as pythonJsonDumps writes a whole object.
    out = '{"alternate-locations":[],"files":[';
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const metadata = f.metadataSha256 ? { sha256: f.metadataSha256 } : false;
      out +=
        (i > 0 ? ',' : '') +
        pythonJsonDumps({
          filename: f.filename,
          url: f.url,
          hashes: { sha256: f.sha256 },
          'requires-python': f.requiresPython,
          size: f.size,
          'upload-time': f.uploadTime,
          yanked: f.yanked,
          // PEP 714: `core-metadata`, plus the older name for clients that predate it.
          // Warehouse emits the older one as `data-dist-info-metadata`; PEP 714 names it
          // `dist-info-metadata`. Both are sent so either kind of client finds it.
          'core-metadata': metadata,
          'dist-info-metadata': metadata,
          'data-dist-info-metadata': metadata,
          provenance: null,
        });
      if (out.length >= CHUNK) {
        yield out;
        out = '';
      }
    }
    const meta = pythonJsonDumps({ 'api-version': API_VERSION, '_last-serial': project.lastSerial });
    yield `${out}],"meta":${meta},"name":${pythonJsonDumps(project.normalized)},"versions":${pythonJsonDumps(versions)}}`;
    return;
  }
  const name = escapeHtml(project.normalized);
  out =
    '<!DOCTYPE html>\n<html lang="en">\n  <head>\n' +
    `    <meta name="pypi:repository-version" content="${API_VERSION}">\n` +
    `    <title>Links for ${name}</title>\n  </head>\n  <body>\n    <h1>Links for ${name}</h1>\n`;
  for (const f of files) {
    let attrs = `href="${escapeHtml(f.url)}#sha256=${f.sha256}" `;
    if (f.requiresPython) attrs += `data-requires-python="${escapeHtml(f.requiresPython)}" `;
    if (f.yanked !== false)
      attrs += `data-yanked="${typeof f.yanked === 'string' ? escapeHtml(f.yanked) : ''}" `;
    if (f.metadataSha256) {
      attrs += `data-dist-info-metadata="sha256=${f.metadataSha256}" data-core-metadata="sha256=${f.metadataSha256}"`;
    }
    out += `    <a ${attrs}>${escapeHtml(f.filename)}</a><br />\n`;
    if (out.length >= CHUNK) {
      yield out;
      out = '';
    }
  }
  yield `${out}  </body>\n</html>\n<!--SERIAL ${project.lastSerial}-->\n`;
}
