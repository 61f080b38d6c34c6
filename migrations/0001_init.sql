-- pypi-graph initial schema (DESIGN.md §4). Applied by packages/db/src/migrate.ts,
-- in one transaction, under an advisory lock so that many workers can start at once.

CREATE TABLE projects (
  id              bigserial PRIMARY KEY,
  -- PEP 503 normalized name: the identity of a project on PyPI
  name            text NOT NULL UNIQUE,
  display_name    text NOT NULL,
  -- mach-nix key (lower case, "_" -> "-") and its bucket, so snapshots read one bucket at a time
  machnix_name    text NOT NULL,
  bucket          char(2) NOT NULL,
  last_serial     bigint NOT NULL DEFAULT 0,
  removed         boolean NOT NULL DEFAULT false,
  removed_at      timestamptz,
  crawled_at      timestamptz,
  failure_code    text,
  failure_message text,
  failed_at       timestamptz
);
CREATE INDEX projects_bucket_idx ON projects (bucket, machnix_name);
CREATE INDEX projects_failure_idx ON projects (failure_code) WHERE failure_code IS NOT NULL;

CREATE TABLE releases (
  id            bigserial PRIMARY KEY,
  project_id    bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  -- the raw version string as PyPI has it (not normalized)
  version       text NOT NULL,
  yanked        boolean NOT NULL DEFAULT false,
  yanked_reason text,
  removed       boolean NOT NULL DEFAULT false,
  removed_at    timestamptz,
  UNIQUE (project_id, version)
);

CREATE TABLE files (
  id                    bigserial PRIMARY KEY,
  filename              text NOT NULL UNIQUE,
  project_id            bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  release_id            bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
  version               text NOT NULL,
  packagetype           text NOT NULL,
  -- the index's python_version: "source", "py3", "py2.py3", "cp38", …
  python_version        text NOT NULL,
  url                   text NOT NULL,
  sha256                char(64) NOT NULL,
  size                  bigint,
  upload_time           timestamptz,
  requires_python       text,
  yanked                boolean NOT NULL DEFAULT false,
  yanked_reason         text,
  core_metadata_sha256  char(64),
  has_core_metadata     boolean NOT NULL DEFAULT false,
  removed               boolean NOT NULL DEFAULT false,
  removed_at            timestamptz,
  first_seen_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_project_idx ON files (project_id);
CREATE INDEX files_sha256_idx ON files (sha256);

CREATE TABLE changelog (
  serial   bigint PRIMARY KEY,
  time     timestamptz NOT NULL,
  name     text NOT NULL,
  version  text,
  action   text NOT NULL
);
CREATE INDEX changelog_time_idx ON changelog (time);

CREATE TABLE crawl_state (
  key         text PRIMARY KEY,
  serial      bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE extractions (
  id                 bigserial PRIMARY KEY,
  file_id            bigint NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  -- "27" … "313", or "any" for results that do not depend on the interpreter
  python_key         text NOT NULL,
  method             text NOT NULL,
  extractor_version  text NOT NULL,
  status             text NOT NULL CHECK (status IN ('ok', 'failed')),
  failure_code       text,
  log                text,
  bytes_transferred  bigint,
  requests           integer,
  started_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  UNIQUE (file_id, python_key, method, extractor_version)
);
CREATE INDEX extractions_failure_idx ON extractions (failure_code) WHERE failure_code IS NOT NULL;

CREATE TABLE requirements (
  id             bigserial PRIMARY KEY,
  extraction_id  bigint NOT NULL REFERENCES extractions (id) ON DELETE CASCADE,
  position       integer NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('install', 'setup', 'test', 'extra', 'python')),
  extra          text,
  requirement    text NOT NULL,
  name           text,
  specifier      text,
  marker         text,
  UNIQUE (extraction_id, position)
);

CREATE TABLE snapshots (
  id                  text PRIMARY KEY,
  serial              bigint NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  counts              jsonb NOT NULL,
  manifest_sha256     char(64) NOT NULL,
  tarball_sha256      char(64) NOT NULL,
  nar_hash            text NOT NULL,
  path                text NOT NULL
);
