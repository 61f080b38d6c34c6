import { configError } from '@pypi-graph/core';
import { pep503Name } from '@pypi-graph/pyspec';
import { z } from 'zod';
import type { ProjectDirective, ReleaseDirective } from './index-model';
import { parseIsoMicros } from './times';
import { canonicalizeVersion } from './version-order';

// `pypi-index.json`, the optional manifest of a served folder (format in ../readme.md).

/** File name of the manifest inside a served folder. */
export const MANIFEST_NAME = 'pypi-index.json';

const IsoTime = z.string().refine((s) => parseIsoMicros(s) !== undefined, 'an ISO 8601 date-time');
const Yanked = z.union([z.boolean(), z.string()]);

export const Manifest = z.strictObject({
  files: z
    .record(
      z.string(),
      z.strictObject({
        upload_time: IsoTime.optional(),
        yanked: Yanked.optional(),
        removed_at: IsoTime.optional(),
        requires_python: z.string().nullable().optional(),
      }),
    )
    .optional(),
  releases: z
    .record(
      z.string().regex(/^[^=]+==.+$/, '"<project>==<version>"'),
      z.strictObject({
        yanked: Yanked.optional(),
        yanked_at: IsoTime.optional(),
        removed_at: IsoTime.optional(),
      }),
    )
    .optional(),
  projects: z.record(z.string(), z.strictObject({ removed_at: IsoTime.optional() })).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export interface FileOverrides {
  uploadTimeUs?: number;
  yanked?: boolean | string;
  removedAtUs?: number;
  requiresPython?: string | null;
}

export interface ParsedManifest {
  files: Map<string, FileOverrides>;
  releases: Map<string, ReleaseDirective>;
  projects: Map<string, ProjectDirective>;
}

const micros = (s: string | undefined) => (s === undefined ? undefined : parseIsoMicros(s));

/** Validates a manifest and keys it the way the index builder looks things up. */
export function parseManifest(json: unknown, source = MANIFEST_NAME): ParsedManifest {
  const result = Manifest.safeParse(json);
  if (!result.success) {
    throw configError(
      'config-invalid',
      `${source} is not a valid manifest: ${z.prettifyError(result.error)}`,
      {
        hint: 'See packages/pypi-server/readme.md for the manifest format.',
      },
    );
  }
  const m = result.data;
  const files = new Map<string, FileOverrides>();
  for (const [filename, f] of Object.entries(m.files ?? {})) {
    files.set(filename.normalize('NFC'), {
      uploadTimeUs: micros(f.upload_time),
      yanked: f.yanked,
      removedAtUs: micros(f.removed_at),
      requiresPython: f.requires_python,
    });
  }
  const releases = new Map<string, ReleaseDirective>();
  for (const [key, r] of Object.entries(m.releases ?? {})) {
    const [project, version] = key.split('==', 2) as [string, string];
    releases.set(releaseKey(project, version), {
      yanked: r.yanked,
      yankedAtUs: micros(r.yanked_at),
      removedAtUs: micros(r.removed_at),
    });
  }
  const projects = new Map<string, ProjectDirective>();
  for (const [name, p] of Object.entries(m.projects ?? {})) {
    projects.set(pep503Name(name), { removedAtUs: micros(p.removed_at) });
  }
  return { files, releases, projects };
}

/** `<normalized project>==<canonical version>`, the key releases are matched by. */
export function releaseKey(project: string, version: string): string {
  return `${pep503Name(project.trim())}==${canonicalizeVersion(version.trim())}`;
}
