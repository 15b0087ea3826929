-- Version 5: cancelled requests. A row here means no copy is to be delivered for the
-- request; a table of its own rather than a column, since few requests ever have one.
-- Removed with its request by retention.
CREATE TABLE request_cancellations (
    request_id   TEXT COLLATE "C" PRIMARY KEY REFERENCES requests(id),
    cancelled_at TEXT COLLATE "C" NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL
);
