-- Version 6: limits on guessing a link's pickup code, and download sessions.
--
-- Every wrong pickup code is a row of `pickup_failures`, so the wrong codes of the last minutes
-- can be counted per link and per client. `links.code_failures` counts them since the link was
-- made or last unlocked; past `[links] pickup_lock_after` the link is locked (`locked_at`) until
-- staff unlock it.
--
-- `link_downloads` keeps who got a counted download of a link and when, so a client resuming
-- that download (a Range request not starting at byte 0) soon after is not counted again.
-- Both cascade with their link, which retention deletes.

ALTER TABLE links ADD COLUMN locked_at TEXT;
ALTER TABLE links ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;

CREATE TABLE pickup_failures (
    id      INTEGER PRIMARY KEY,
    link_id TEXT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    client  TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX pickup_failures_by_link ON pickup_failures(link_id, at);
CREATE INDEX pickup_failures_by_client ON pickup_failures(client, at);

CREATE TABLE link_downloads (
    id      INTEGER PRIMARY KEY,
    link_id TEXT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    client  TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX link_downloads_by_link ON link_downloads(link_id, client, at);

INSERT INTO schema_history (version, applied_at)
VALUES (6, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
