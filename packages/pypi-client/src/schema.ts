import type { ChangelogRow } from '@pypi-graph/model';
import { z } from 'zod';

// Schemas of every payload the index sends us. Each schema validates the wire format and
// transforms it to the shape the crawler uses; the schema and its output type share a name (or,
// for a noun of packages/model, the schema is `<Noun>Schema` and its output is the model's type).
// Lists are validated entry by entry by the callers (see `parseEach`), so one bad entry is
// dropped and counted instead of failing the whole answer.

const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'not a sha256 hex digest')
  .transform((s) => s.toLowerCase());

// https://peps.python.org/pep-0700/#specification: "yyyy-mm-ddThh:mm:ss.ffffffZ (where ffffff is optional)".
// PyPI's JSON API uses the same form in upload_time_iso_8601; offsets are accepted too.
const IsoTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/, 'not an ISO 8601 date-time')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date-time');

const Serial = z.number().int().nonnegative();

/** A digest map (`hashes`, `core-metadata`); only sha256 matters to us, and must be well formed. */
const Hashes = z.object({ sha256: Sha256.optional() }).catchall(z.string());

// https://peps.python.org/pep-0714/: `core-metadata` replaced `dist-info-metadata`; clients
// read the new key and fall back to the old one.
const CoreMetadataField = z.union([z.boolean(), Hashes]);

/**
 * One file of a PEP 691 Simple JSON project page, with the PEP 592 (yanked), PEP 658/714
 * (core-metadata) and PEP 700 (size, upload-time) fields. `url` is as the page gave it;
 * the client resolves it against the page URL.
 * https://peps.python.org/pep-0691/#project-detail
 */
export const SimpleFile = z
  .object({
    filename: z.string().min(1),
    url: z.string().min(1),
    hashes: Hashes,
    'requires-python': z.string().nullish(),
    yanked: z.union([z.boolean(), z.string()]).optional(),
    size: z.number().int().nonnegative().optional(),
    'upload-time': IsoTime.nullish(),
    'core-metadata': CoreMetadataField.optional(),
    'dist-info-metadata': CoreMetadataField.optional(),
  })
  .transform((f) => {
    const meta = f['core-metadata'] ?? f['dist-info-metadata'] ?? false;
    return {
      filename: f.filename,
      url: f.url,
      /** hashes.sha256, lower case; null when the index gave none. */
      sha256: f.hashes.sha256 ?? null,
      requiresPython: f['requires-python'] ?? null,
      // PEP 592: a string is a reason and means yanked, even an empty one.
      yanked: f.yanked === undefined ? false : f.yanked === '' ? true : f.yanked,
      size: f.size ?? null,
      uploadTime: f['upload-time'] ?? null,
      /** PEP 658 metadata file: absent (false), present (true), present with its sha256. */
      coreMetadata:
        typeof meta === 'boolean' ? meta : meta.sha256 === undefined ? true : { sha256: meta.sha256 },
    };
  });
export type SimpleFile = z.infer<typeof SimpleFile>;

// https://peps.python.org/pep-0629/: the major version changes only for incompatible changes.
const ApiVersion = z.string().regex(/^1\.\d+$/, 'unsupported Simple API major version (expected 1.x)');

/** The envelope of a PEP 691 project page; `files` are checked one by one. */
export const SimpleProjectPage = z.object({
  meta: z.object({ 'api-version': ApiVersion, '_last-serial': Serial.optional() }),
  name: z.string().min(1),
  files: z.array(z.unknown()),
  // https://peps.python.org/pep-0700/: required from api-version 1.1 on.
  versions: z.array(z.string()).optional(),
});
export type SimpleProjectPage = z.infer<typeof SimpleProjectPage>;

/** One project of the PEP 691 root page `/simple/`. */
export const SimpleIndexEntry = z
  .object({ name: z.string().min(1), '_last-serial': Serial.optional() })
  .transform((p) => ({ name: p.name, lastSerial: p['_last-serial'] ?? null }));
export type SimpleIndexEntry = z.infer<typeof SimpleIndexEntry>;

export const SimpleIndexPage = z.object({
  meta: z.object({ 'api-version': ApiVersion, '_last-serial': Serial.optional() }),
  projects: z.array(z.unknown()),
});
export type SimpleIndexPage = z.infer<typeof SimpleIndexPage>;

/**
 * One file of a release in PyPI's JSON API (`/pypi/<project>/json`).
 * https://docs.pypi.org/api/json/
 */
export const ProjectJsonFile = z
  .object({
    filename: z.string().min(1),
    url: z.string().min(1),
    digests: z.object({ sha256: Sha256 }),
    packagetype: z.string().min(1),
    python_version: z.string().nullish(),
    size: z.number().int().nonnegative(),
    upload_time_iso_8601: IsoTime.nullish(),
    requires_python: z.string().nullish(),
    yanked: z.boolean().optional(),
    yanked_reason: z.string().nullish(),
  })
  .transform((f) => ({
    filename: f.filename,
    url: f.url,
    sha256: f.digests.sha256,
    packagetype: f.packagetype,
    /** `source` for sdists, a Python tag (`py3`, `cp311`) for wheels. */
    pythonVersion: f.python_version ?? null,
    size: f.size,
    uploadTime: f.upload_time_iso_8601 ?? null,
    requiresPython: f.requires_python ?? null,
    yanked: f.yanked ?? false,
    yankedReason: f.yanked_reason ?? null,
  }));
export type ProjectJsonFile = z.infer<typeof ProjectJsonFile>;

/** The envelope of the JSON API answer; each release's files are checked one by one. */
export const ProjectJsonPage = z.object({
  info: z.object({ name: z.string().min(1), version: z.string().nullish() }),
  last_serial: Serial,
  releases: z.record(z.string(), z.unknown()),
});
export type ProjectJsonPage = z.infer<typeof ProjectJsonPage>;

// https://warehouse.pypa.io/api-reference/xml-rpc.html#changelog-since-serial-since-serial
/** One changelog row, `[name, version, timestamp, action, serial]`; version is nil for project-level events. */
export const ChangelogRowSchema = z
  .tuple([z.string().min(1), z.string().nullable(), Serial, z.string(), Serial])
  .transform(
    ([name, version, timestamp, action, serial]): ChangelogRow => ({
      name,
      version,
      timestamp,
      action,
      serial,
    }),
  );

/** `changelog_last_serial` and the values of `list_packages_with_serial`. */
export const SerialValue = Serial;

/** The `X-PyPI-Last-Serial` header. */
export const SerialHeader = z
  .string()
  .regex(/^\d+$/)
  .transform((s) => Number(s))
  .pipe(Serial);

/** Parses each entry; returns the valid ones and how many were dropped. */
/** A validation failure in one line: each issue's path and message. */
export function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

export function parseEach<S extends z.ZodType>(
  schema: S,
  items: readonly unknown[],
): { items: z.output<S>[]; dropped: number; firstError?: string } {
  const out: z.output<S>[] = [];
  let firstError: string | undefined;
  for (const item of items) {
    const r = schema.safeParse(item);
    if (r.success) out.push(r.data);
    else firstError ??= issuesText(r.error);
  }
  return { items: out, dropped: items.length - out.length, firstError };
}
