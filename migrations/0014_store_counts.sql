-- `pnpm status` counted whole tables (13.6 s at 10 million files: files, releases, the join that
-- finds releases with files, and the changelog). The counts now live beside what they count:
-- each project row holds its own (kept by saveProject and markProjectRemoved, in the same
-- transaction as the change), and `store_totals` holds the changelog's row count (kept by
-- insertChangelog). `status` sums the project rows: its cost follows the number of projects,
-- not of files. The definitions are those of the whole-table counts they replace:
--   releases_current     releases not removed
--   releases_with_files  releases not removed with a current sdist or wheel (what a snapshot's
--                        `pypi/` lists; counted by status for projects not removed)
--   files_current        files not removed
--   files_removed        files removed
ALTER TABLE projects
  ADD COLUMN releases_current integer NOT NULL DEFAULT 0,
  ADD COLUMN releases_with_files integer NOT NULL DEFAULT 0,
  ADD COLUMN files_current integer NOT NULL DEFAULT 0,
  ADD COLUMN files_removed integer NOT NULL DEFAULT 0;

-- What is already stored, counted once (the same statement as packages/db recountAllProjects).
UPDATE projects p
   SET releases_current = c.releases_current,
       releases_with_files = c.releases_with_files,
       files_current = c.files_current,
       files_removed = c.files_removed
  FROM (SELECT p0.id,
               coalesce(r.n, 0) AS releases_current,
               coalesce(w.n, 0) AS releases_with_files,
               coalesce(f.cur, 0) AS files_current,
               coalesce(f.gone, 0) AS files_removed
          FROM projects p0
          LEFT JOIN (SELECT project_id, count(*) AS n FROM releases WHERE NOT removed GROUP BY project_id) r
            ON r.project_id = p0.id
          LEFT JOIN (SELECT project_id, count(*) FILTER (WHERE NOT removed) AS cur,
                            count(*) FILTER (WHERE removed) AS gone
                       FROM files GROUP BY project_id) f
            ON f.project_id = p0.id
          LEFT JOIN (SELECT fw.project_id, count(DISTINCT fw.release_id) AS n
                       FROM files fw JOIN releases rw ON rw.id = fw.release_id AND NOT rw.removed
                      WHERE NOT fw.removed AND fw.packagetype IN ('sdist', 'bdist_wheel')
                      GROUP BY fw.project_id) w
            ON w.project_id = p0.id) c
 WHERE c.id = p.id
   AND (p.releases_current, p.releases_with_files, p.files_current, p.files_removed)
       IS DISTINCT FROM (c.releases_current, c.releases_with_files, c.files_current, c.files_removed);

CREATE TABLE store_totals (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO store_totals (key, value) SELECT 'changelog_rows', count(*) FROM changelog;
