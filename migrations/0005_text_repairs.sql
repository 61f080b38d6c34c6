-- Hostile bytes (issue 10): text PostgreSQL cannot store (NUL, unpaired surrogates) is replaced
-- by U+FFFD instead of costing the row, and source text that was not UTF-8 is read leniently.
-- How many such repairs an extraction needed, so that it shows (`pnpm pypi-graph show`) and can
-- be counted; 0 for clean text.
ALTER TABLE extractions ADD COLUMN text_repairs integer NOT NULL DEFAULT 0;
