-- PyPI's size (issue 9): what a 10-million-file database needs to answer its hot queries from
-- indexes, and the per-project change counter incremental snapshots key their reuse on.
-- Numbered 0006: it follows 0004_sandbox_waiting and 0005_text_repairs of the main branch.

-- Bumped (from project_change_seq) by every write that can change what a snapshot publishes for
-- the project: saveProject, markProjectRemoved, saveExtraction (packages/db). A snapshot reuses a
-- project's serialized entries from the previous one only while this value is the same.
CREATE SEQUENCE project_change_seq;
ALTER TABLE projects ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;

-- Current files of one package type in id order: reconcile pages through them
-- (listFilesWithoutResult) by an index-only scan instead of reading every row of `files`.
CREATE INDEX files_current_type_idx ON files (packagetype, id) WHERE NOT removed;

-- `status`'s failures by code: counted from this index alone, the example being the first
-- failure of each code by id (one index probe), instead of joining every failure to its file.
-- Failed results only: a `waiting` row (no sandbox here) carries a code but is not a failure.
CREATE INDEX extractions_failure_id_idx ON extractions (failure_code, id) WHERE status = 'failed';
DROP INDEX extractions_failure_idx;
