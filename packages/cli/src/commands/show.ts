import { CrawlError } from '@pypi-graph/core';
import { getProject } from '@pypi-graph/db';
import type { App } from '../app';

/** A project's releases and files with their hashes, as stored. */
export async function show(app: App, name: string): Promise<string> {
  const project = await getProject(app.db, name);
  if (!project) {
    throw new CrawlError('project-not-found', `no project ${JSON.stringify(name)} in the database`, {
      hint: `crawl it first: pnpm crawl --project ${name}`,
    });
  }
  const flags = (f: { yanked: boolean; removed: boolean }) =>
    `${f.yanked ? ' [yanked]' : ''}${f.removed ? ' [removed]' : ''}`;
  const out = [
    `${project.displayName} (${project.name})  serial ${project.lastSerial}${project.removed ? '  [removed]' : ''}`,
  ];
  if (project.failureCode)
    out.push(`  last failure: ${project.failureCode}: ${project.failureMessage ?? ''}`);
  for (const r of project.releases) {
    out.push(`  ${r.version}${flags(r)}`);
    for (const f of r.files) {
      out.push(
        `    ${f.filename}  ${f.packagetype} ${f.pythonVersion}  sha256:${f.sha256}  ${f.size ?? '?'} bytes  ` +
          `${f.uploadTime?.toISOString() ?? 'no upload time'}${f.requiresPython ? `  requires-python ${f.requiresPython}` : ''}${flags(f)}`,
      );
    }
    if (r.files.length === 0) out.push('    (no files)');
  }
  return out.join('\n');
}
