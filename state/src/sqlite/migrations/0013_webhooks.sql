-- Version 13: webhook cursors. The audit log is the webhooks' outbox: each configured endpoint
-- has one row saying how far it was sent (last_seq), its failed tries of the next event, and
-- the node whose sender holds it. Rows of endpoints no longer configured are harmless.
CREATE TABLE webhook_cursors (
    endpoint        TEXT PRIMARY KEY,
    last_seq        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_until   TEXT
);

INSERT INTO schema_history (version, applied_at)
VALUES (13, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
