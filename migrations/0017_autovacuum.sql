-- Autovacuum per table at PyPI's size (docs/operations.md, "Autovacuum and statistics").
-- PostgreSQL's defaults wait for 20 % of a table's rows to be new before a vacuum and 10 %
-- before an analyze: at 100 million requirement rows nothing happens until 20 million new ones,
-- and the visibility map (index-only scans of status, reconcile and the snapshot) and the
-- planner's statistics fall behind the growth. These storage parameters only matter where
-- autovacuum is on (PostgreSQL's default); they change no data.
ALTER TABLE files        SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE extractions  SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE requirements SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE releases     SET (autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE changelog    SET (autovacuum_vacuum_insert_scale_factor = 0.05);
-- Every crawl of a project updates its row (crawled_at, last_serial, change_seq): dead rows.
ALTER TABLE projects     SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
-- A queue: discover inserts a row per project, the project job deletes it. A backfill leaves
-- as many dead rows as projects (about 700,000) unless they are vacuumed as it goes.
ALTER TABLE pending_projects SET (autovacuum_vacuum_scale_factor = 0.05);
