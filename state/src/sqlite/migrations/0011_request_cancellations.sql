-- Version 11: cancelled requests. A row here means no copy is to be delivered for the
-- request; a table of its own rather than a column, since few requests ever have one.
-- Removed with its request by retention.
CREATE TABLE request_cancellations (
    request_id   TEXT PRIMARY KEY REFERENCES requests(id),
    cancelled_at TEXT NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL
);

INSERT INTO schema_history (version, applied_at)
VALUES (11, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
