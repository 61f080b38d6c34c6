-- Build dependencies from the crawled index (issue 11 §2): a result computed in the sandbox with
-- build tools says how. NULL for results that needed none (static metadata, a plain setup.py
-- run); else a JSON object (docs/formats.md, "Build provenance"):
--   {"method": "pep517" | "setup.py", "backend": "<build-backend>" | null,
--    "build_dependencies": [{"name", "version", "filename", "sha256"}, ...]}
ALTER TABLE extractions ADD COLUMN build_provenance jsonb;
