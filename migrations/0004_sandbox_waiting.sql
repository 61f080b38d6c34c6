-- Fail closed (issue 10 §1, issue 12 §3): an sdist whose dependencies need its setup.py run, taken
-- by a process that has no proven Nix sandbox, is not a failure of the file. It is recorded as
-- `waiting` (failure_code says why: `sandbox-unavailable`), is not a result (it is enqueued again
-- by `crawl --resume`, the scheduler and the project's next crawl), and appears in neither
-- `sdist/` nor `sdist-errors/`.
ALTER TABLE extractions DROP CONSTRAINT extractions_status_check;
ALTER TABLE extractions ADD CONSTRAINT extractions_status_check
  CHECK (status IN ('ok', 'failed', 'waiting'));
CREATE INDEX extractions_waiting_idx ON extractions (file_id) WHERE status = 'waiting';

-- The last sandbox check of each process that runs sdists (`pnpm status` shows them): proven,
-- or unavailable and why.
CREATE TABLE sandbox_checks (
  -- host name and process id: `host:pid`
  worker      text PRIMARY KEY,
  state       text NOT NULL CHECK (state IN ('proven', 'unavailable')),
  reason      text,
  checked_at  timestamptz NOT NULL DEFAULT now()
);
