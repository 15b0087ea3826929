-- Version 10: the job queue's order as an index. A claim takes the oldest job in a state
-- (`ORDER BY created_at, id`); with `jobs(state)` alone every claim sorted all waiting jobs,
-- and claims slowed as the queue grew (BENCHMARKS.md, "Many nodes").
CREATE INDEX jobs_queue ON jobs(state, created_at, id);

INSERT INTO schema_history (version, applied_at)
VALUES (10, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
