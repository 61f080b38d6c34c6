-- `recrawl --failed` reads the failures it keeps from the partial index extractions_refailed_idx
-- (migration 0012). At 10 million files the index gave 92,751 rows, but the planner, judging
-- status, python_key and failure_code independent, expected 796,000 and joined them to `files`
-- by a hash join over the whole table (3.4-3.7 s for the sdists' statement). The columns are not
-- independent (the codes the index leaves out are per-Python setup.py outcomes): statistics of
-- their combinations give an estimate near the truth (112,000) and a nested loop over files'
-- primary key (1.1-1.2 s on the same database).
CREATE STATISTICS extractions_failure_stats (mcv) ON status, python_key, failure_code FROM extractions;
ANALYZE extractions;
