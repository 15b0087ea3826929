-- Version 2: what delivery needs beyond version 1: the delivered file's facts, and a queue of
-- e-mail notices written in the same transaction as the delivery, so a crash can delay a
-- notice but never lose it.

ALTER TABLE deliveries ADD COLUMN file_name TEXT NOT NULL DEFAULT 'document.pdf';
ALTER TABLE deliveries ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN page_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN library TEXT;
ALTER TABLE links ADD COLUMN downloads_allowed INTEGER NOT NULL DEFAULT 0;
-- When the last download was used or the link was revoked; expiry needs no column.
ALTER TABLE links ADD COLUMN ended_at TEXT;
CREATE INDEX links_by_delivery ON links(delivery_id);
CREATE UNIQUE INDEX deliveries_one_per_job ON deliveries(job_id) WHERE job_id IS NOT NULL;

CREATE TABLE notices (
    id            INTEGER PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES deliveries(id),
    recipient     TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE INDEX notices_due ON notices(state, next_attempt_at);

INSERT INTO schema_history (version, applied_at)
VALUES (2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
