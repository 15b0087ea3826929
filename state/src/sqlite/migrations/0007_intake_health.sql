-- Version 7: failed tries at processing a job (a panic, or a run cut short by an error that was
-- not the scan's fault), so a scan that keeps breaking the worker is failed and quarantined
-- after [intake] max_attempts tries instead of stopping intake again at every start.
CREATE TABLE job_attempts (
    job_id     TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    failures   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

INSERT INTO schema_history (version, applied_at)
VALUES (7, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
