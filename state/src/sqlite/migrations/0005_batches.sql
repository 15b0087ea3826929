-- Version 5: batches split at their cover and separator sheets. A batch job ends in the new
-- state `split` and each of its documents becomes a job of its own that names the batch in
-- `parent_job`. SQLite cannot change a CHECK constraint in place, so the table is rebuilt (the
-- documented 12-step procedure; the migration runs with foreign keys off and checks them after).

CREATE TABLE jobs_v5 (
    id            TEXT PRIMARY KEY,
    request_id    TEXT REFERENCES requests(id),
    state         TEXT NOT NULL CHECK (state IN
                    ('received', 'processing', 'processed', 'delivered', 'held', 'failed', 'split')),
    hold_reason   TEXT,
    source_name   TEXT NOT NULL,
    spool_path    TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    page_count    INTEGER,
    report_json   TEXT,
    output_sha256 TEXT,
    error_code    TEXT,
    error_message TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    parent_job    TEXT REFERENCES jobs(id)
);
INSERT INTO jobs_v5 (id, request_id, state, hold_reason, source_name, spool_path, source_sha256,
                     page_count, report_json, output_sha256, error_code, error_message,
                     created_at, updated_at)
SELECT id, request_id, state, hold_reason, source_name, spool_path, source_sha256,
       page_count, report_json, output_sha256, error_code, error_message, created_at, updated_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v5 RENAME TO jobs;
CREATE INDEX jobs_by_state ON jobs(state);
CREATE INDEX jobs_by_source ON jobs(source_sha256);
CREATE INDEX jobs_by_parent ON jobs(parent_job);

INSERT INTO schema_history (version, applied_at)
VALUES (5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
