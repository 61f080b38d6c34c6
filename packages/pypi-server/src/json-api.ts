import type { CoreMetadata } from '@pypi-graph/pyspec';
import { compareCodePoints, type JsonValue, pythonJsonDumps } from '@pypi-graph/pyspec';
import {
  fileRequiresPython,
  fileYank,
  type IndexFile,
  liveFiles,
  liveReleases,
  materialize,
  type Project,
  type Release,
} from './index-model';
import { isoformatZ, strftimeSeconds } from './times';
import { fileUrl, quotePathSegment } from './urls';

// PyPI's JSON API, shaped like warehouse's `_json_data` (warehouse/legacy/api/json.py).
// https://docs.pypi.org/api/json/
// `/pypi/<project>/json` includes `releases` (every release, files by file name, a release
// whose files were all removed as an empty list); `/pypi/<project>/<version>/json` does not.

async function fileJson(file: IndexFile, baseUrl: string): Promise<JsonValue> {
  const m = await materialize(file);
  const yank = fileYank(file);
  return {
    comment_text: '',
    digests: { blake2b_256: m.stat.blake2b256, md5: m.stat.md5, sha256: m.stat.sha256 },
    downloads: -1,
    filename: file.filename,
    has_sig: false,
    md5_digest: m.stat.md5,
    packagetype: file.packagetype,
    python_version: file.pythonVersion,
    requires_python: fileRequiresPython(file),
    size: m.stat.size,
    upload_time: strftimeSeconds(file.uploadTimeUs),
    upload_time_iso_8601: isoformatZ(file.uploadTimeUs),
    url: fileUrl(baseUrl, m),
    yanked: yank.yanked,
    yanked_reason: yank.reason,
  };
}

/** A release's files in the JSON API's order (by file name). */
const releaseFiles = (release: Release) =>
  [...liveFiles(release)].sort((a, b) => compareCodePoints(a.filename, b.filename));

/** The metadata warehouse keeps for a release: that of its first upload that has any. */
async function releaseMetadata(release: Release): Promise<{ meta?: CoreMetadata; body?: string }> {
  for (const f of release.files) {
    const meta = await f.content.metadata();
    if (!meta) continue;
    const raw = await f.content.metadataBytes();
    const text = raw?.toString('utf8') ?? '';
    const split = text.search(/\r?\n\r?\n/);
    const body = split >= 0 ? text.slice(split).replace(/^\r?\n\r?\n/, '') : undefined;
    return { meta, body };
  }
  return {};
}

async function info(project: Project, release: Release, baseUrl: string): Promise<JsonValue> {
  const { meta, body } = await releaseMetadata(release);
  const one = (field: string) => meta?.get(field) ?? null;
  const many = (field: string) => {
    const values = meta?.getAll(field) ?? [];
    return values.length > 0 ? values : null;
  };
  const projectUrls = new Map<string, string>();
  const homePage = one('Home-page');
  if (homePage) projectUrls.set('Homepage', homePage);
  for (const entry of meta?.getAll('Project-URL') ?? []) {
    const comma = entry.indexOf(',');
    if (comma > 0) projectUrls.set(entry.slice(0, comma).trim(), entry.slice(comma + 1).trim());
  }
  const projectPage = `${baseUrl}/project/${quotePathSegment(project.name)}/`;
  return {
    author: one('Author'),
    author_email: one('Author-email'),
    bugtrack_url: null,
    classifiers: meta?.getAll('Classifier') ?? [],
    description: body?.trim() ? body : one('Description'),
    description_content_type: one('Description-Content-Type'),
    docs_url: null,
    download_url: one('Download-URL'),
    downloads: { last_day: -1, last_month: -1, last_week: -1 },
    dynamic: many('Dynamic'),
    home_page: homePage,
    keywords: one('Keywords'),
    license: one('License'),
    license_expression: one('License-Expression'),
    license_files: many('License-File'),
    maintainer: one('Maintainer'),
    maintainer_email: one('Maintainer-email'),
    name: project.name,
    package_url: projectPage,
    platform: one('Platform'),
    project_url: projectPage,
    project_urls: projectUrls.size > 0 ? Object.fromEntries(projectUrls) : null,
    provides_extra: many('Provides-Extra'),
    release_url: `${projectPage}${quotePathSegment(release.version)}/`,
    requires_dist: many('Requires-Dist'),
    requires_python: release.requiresPython,
    summary: one('Summary'),
    version: release.version,
    yanked: release.yanked,
    yanked_reason: release.yankedReason,
  };
}

const CHUNK = 64 * 1024;

/**
 * The body of `/pypi/<project>/json` (allReleases) or `/pypi/<project>/<version>/json`, written
 * file by file: the keys in code-point order, as pythonJsonDumps writes the whole object.
 */
export async function* renderJsonApi(
  project: Project,
  release: Release,
  baseUrl: string,
  allReleases: boolean,
): AsyncGenerator<string> {
  let out = `{"info":${pythonJsonDumps(await info(project, release, baseUrl))},"last_serial":${project.lastSerial}`;
  const list = async function* (files: IndexFile[]) {
    for (let i = 0; i < files.length; i++) {
      out += (i > 0 ? ',' : '') + pythonJsonDumps(await fileJson(files[i]!, baseUrl));
      if (out.length >= CHUNK) {
        yield out;
        out = '';
      }
    }
  };
  if (allReleases) {
    out += ',"releases":{';
    const releases = liveReleases(project).sort((a, b) => compareCodePoints(a.version, b.version));
    for (const [i, r] of releases.entries()) {
      out += `${i > 0 ? ',' : ''}${pythonJsonDumps(r.version)}:[`;
      yield* list(releaseFiles(r));
      out += ']';
    }
    out += '}';
  }
  out += ',"urls":[';
  yield* list(releaseFiles(release));
  yield `${out}],"vulnerabilities":[]}`;
}
