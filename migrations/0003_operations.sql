-- Distributed operation (issue 5): what Redis must never be the only holder of, and the
-- record of each scheduled refresh.

-- Projects a discover job asked to be crawled and whose project job has not finished yet.
-- Discover writes the row before it enqueues; the project job deletes it when it finishes
-- (saved, stale, removed or failed for good). After Redis loses its data, `pnpm crawl --resume`
-- enqueues every row again.
CREATE TABLE pending_projects (
  -- PEP 503 normalized name
  name         text PRIMARY KEY,
  display_name text NOT NULL,
  -- the newest serial that asked for this project
  serial       bigint NOT NULL,
  priority     integer NOT NULL,
  queued_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per refresh (`pnpm scheduler`): discover since the last serial, the work that
-- follows, then a snapshot.
CREATE TABLE refreshes (
  id           bigserial PRIMARY KEY,
  -- the schedule slot it ran for; null when started by hand (`pnpm scheduler --once`)
  slot         timestamptz,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  status       text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  from_serial  bigint,
  to_serial    bigint,
  counts       jsonb,
  snapshot_id  text,
  error        text
);
CREATE INDEX refreshes_started_idx ON refreshes (started_at);

-- recrawl --failed: failed extractions by code.
CREATE INDEX extractions_failed_idx ON extractions (failure_code) WHERE status = 'failed';
