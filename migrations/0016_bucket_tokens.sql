-- A snapshot reads every bucket's tokens (machnix_name, id, change_seq of its projects; packages/db
-- bucketTokens) to find the keys that changed since the previous snapshot. Through
-- projects_bucket_idx it read each of the bucket's rows from the heap: at 10 million files a
-- bucket's 2,900 projects lie on about 2,600 heap pages, 50-100 ms per bucket and 12 s of
-- PostgreSQL's CPU per snapshot for 256 buckets. This index holds what the statement reads, in
-- the order it groups by: an index-only scan, about 3 ms per bucket (heap pages touched since the
-- last vacuum are still read; packages/db vacuumForSnapshot). It replaces projects_bucket_idx,
-- whose columns are its first two.
CREATE INDEX projects_bucket_token_idx ON projects (bucket, machnix_name, id) INCLUDE (change_seq);
DROP INDEX projects_bucket_idx;
