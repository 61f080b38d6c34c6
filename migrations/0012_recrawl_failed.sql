-- `recrawl --failed` (failedFileWork in packages/db) leaves out what setup.py itself decided under
-- one Python (SETUP_PY_OUTCOME_CODES there: at PyPI's size millions of Python-3-only sdists fail
-- under 2.7) and re-crawls the rest. It read every failed extraction and dropped most of them
-- (7.8 s at 3 million files, growing with the table); this partial index holds only the failures
-- it keeps, so its cost follows what it finds. The predicate is spelled exactly as the query
-- spells it (PostgreSQL matches a partial index by the query's own clauses).
CREATE INDEX extractions_refailed_idx ON extractions (extractor_version, file_id)
  WHERE status = 'failed'
    AND (python_key = 'any'
         OR failure_code <> ALL (ARRAY['python-incompatible', 'setup-py-error', 'missing-build-dependency', 'no-setup-py']));
