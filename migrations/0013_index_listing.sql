-- `crawl --all` lists the whole index (list_packages_with_serial: 737,000 projects at PyPI's
-- size) and must find the stored projects the listing no longer names. It held the listing and
-- every stored project in the worker's memory (several hundred MB at PyPI's size); now the
-- listing is written here a batch at a time as it arrives (normalized names) and the projects it
-- does not name are found by a query. One listing at a time: discover empties it before and
-- after. A listing cut short leaves rows that the next one empties first.
CREATE TABLE index_listing (
  name text PRIMARY KEY
);
