-- PyPI's size (issue 9): what a 10-million-file database needs to answer its hot queries from
-- indexes, and the per-project change counter incremental snapshots key their reuse on.

-- Bumped (from project_change_seq) by every write that can change what a snapshot publishes for
-- the project: saveProject, markProjectRemoved, saveExtraction (packages/db). A snapshot reuses a
-- project's serialized entries from the previous one only while this value is the same.
CREATE SEQUENCE project_change_seq;
ALTER TABLE projects ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
