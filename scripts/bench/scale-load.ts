// `pnpm bench scale` child: bulk-loads the generated crawl state of N files into an empty,
// migrated PostgreSQL database through packages/db's bulkLoad, then prints the row counts as
// one JSON line. Run as its own process so that its CPU time and peak RSS are its own.
import { type BulkWriter, bulkLoad } from '@pypi-graph/db';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import { scaleStep } from './common';
import { generateProject, lastSerialOf, PROJECTS_PER_FILE, serialOf, T_NOW } from './scale-data';

const at = (seconds: number) => new Date(seconds * 1000);

export async function loadState(databaseUrl: string, files: number, seed: number, vacuum = true) {
  const projects = Math.max(1, Math.round(files * PROJECTS_PER_FILE));
  let maxSerial = 0;
  let releaseId = 0;
  let fileId = 0;
  let extractionId = 0;
  let requirementId = 0;
  const result = await bulkLoad(
    databaseUrl,
    async (w: BulkWriter) => {
      const put = async <T extends Parameters<BulkWriter['write']>[0]>(
        table: T,
        row: Parameters<BulkWriter['write']>[1] & object,
      ) => {
        const wait = w.write(table, row as never);
        if (wait) await wait;
      };
      for (let index = 0; index < projects; index++) {
        const g = generateProject(seed, index, 0, projects);
        const projectId = index + 1;
        const lastSerial = lastSerialOf(g);
        maxSerial = Math.max(maxSerial, lastSerial);
        const machnix = machNixName(g.displayName);
        const removed = g.removedAt !== null;
        await put('projects', {
          id: projectId,
          name: g.name,
          displayName: g.displayName,
          machnixName: machnix,
          bucket: bucketOf(machnix),
          lastSerial,
          removed,
          removedAt: removed ? at(g.removedAt!) : null,
          crawledAt: at(T_NOW - (index % 86_400)),
        });
        for (const rel of g.releases) {
          const rid = ++releaseId;
          const live = rel.files.filter((f) => f.removedAt === null);
          const yanked = live.length > 0 && live.every((f) => f.yanked);
          await put('releases', {
            id: rid,
            projectId,
            version: rel.version,
            yanked,
            yankedReason: yanked ? (live.find((f) => f.yankedReason)?.yankedReason ?? null) : null,
            removed,
            removedAt: removed ? at(g.removedAt!) : null,
          });
          for (const f of rel.files) {
            const fid = ++fileId;
            const fileRemovedAt = removed ? g.removedAt : f.removedAt;
            await put('files', {
              id: fid,
              filename: f.filename,
              projectId,
              releaseId: rid,
              version: rel.version,
              packagetype: f.packagetype,
              pythonVersion: f.pythonVersion,
              url: `https://files.pythonhosted.org/packages/${f.sha256.slice(0, 2)}/${f.sha256.slice(2, 4)}/${f.sha256.slice(4)}/${f.filename}`,
              sha256: f.sha256,
              size: f.size,
              uploadTime: at(f.uploadTime),
              requiresPython: f.requiresPython,
              yanked: f.yanked,
              yankedReason: f.yankedReason,
              coreMetadataSha256: f.coreMetadataSha256,
              hasCoreMetadata: f.hasCoreMetadata,
              removed: fileRemovedAt !== null,
              removedAt: fileRemovedAt === null ? null : at(fileRemovedAt),
              firstSeenAt: at(f.uploadTime + 300),
              // The version of its latest result (the bench writes no `waiting` rows).
              resultVersion: f.extractions.at(-1)?.extractorVersion ?? null,
            });
            for (const e of f.extractions) {
              const eid = ++extractionId;
              await put('extractions', {
                id: eid,
                fileId: fid,
                pythonKey: e.pythonKey,
                method: e.method,
                extractorVersion: e.extractorVersion,
                status: e.status,
                failureCode: e.failureCode,
                log: e.log,
                bytesTransferred: e.method === 'pep658' ? 4_000 : e.method === 'range' ? 12_000 : f.size,
                requests: e.method === 'range' ? 2 : 1,
                startedAt: at(f.uploadTime + 600),
                finishedAt: at(f.uploadTime + 601),
              });
              let position = 0;
              for (const r of e.requirements) {
                await put('requirements', {
                  id: ++requirementId,
                  extractionId: eid,
                  position: position++,
                  kind: r.kind,
                  extra: r.extra,
                  requirement: r.requirement,
                  name: r.name,
                  specifier: r.specifier,
                  marker: r.marker,
                });
              }
            }
          }
        }
        for (const e of g.events) {
          await put('changelog', {
            serial: serialOf(e.time, index),
            time: at(e.time),
            name: g.displayName,
            version: e.version,
            action: e.action,
          });
        }
      }
    },
    { changelogSerial: maxSerial, vacuum },
  );
  return { projects, changelogSerial: maxSerial, rows: result.rows };
}

await scaleStep(
  import.meta,
  'scale-load.ts --database-url URL --files N [--seed S]',
  { 'no-vacuum': { type: 'boolean', default: false } },
  (a) => loadState(a.databaseUrl, a.files, a.seed, !a.values['no-vacuum']),
);
