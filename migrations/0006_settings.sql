-- Facts about the stored data that are not rows of the index. `index_url`: the index the data
-- was crawled from (PYPI_URL of the last crawl or worker), so that commands which only read the
-- database (`pnpm status`) compare with that index, not with whatever PYPI_URL says today.
CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
