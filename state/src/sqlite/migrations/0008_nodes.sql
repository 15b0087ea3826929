-- Version 8: several nodes on one queue (the columns exist here too, so that both backends
-- have the same tables and `quire db copy` moves everything).
-- A worker claims a job for a while: `claimed_by` names its node, `lease_until` says until
-- when. The node renews its leases with its heartbeat; a node that dies loses its jobs when
-- the lease lapses, and another node takes them up.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
-- The originals as kept in the shared object store (JSON list of name, sha256, bytes); NULL
-- when the local spool holds them.
ALTER TABLE jobs ADD COLUMN custody_json TEXT;
CREATE INDEX jobs_by_claim ON jobs(claimed_by);

-- Every daemon that has run against this database, with its latest heartbeat.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    roles      TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    version    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    beat_at    TEXT NOT NULL
);

INSERT INTO schema_history (version, applied_at)
VALUES (8, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
