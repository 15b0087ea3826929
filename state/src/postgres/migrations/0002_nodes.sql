-- Version 2: several nodes on one queue.
-- A worker claims a job for a while: `claimed_by` names its node, `lease_until` says until
-- when. The node renews its leases with its heartbeat; a node that dies loses its jobs when
-- the lease lapses, and another node takes them up.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE jobs ADD COLUMN lease_until TEXT COLLATE "C";
-- The originals as kept in the shared object store (JSON list of name, sha256, bytes); NULL
-- when the local spool holds them.
ALTER TABLE jobs ADD COLUMN custody_json TEXT COLLATE "C";
CREATE INDEX jobs_by_claim ON jobs(claimed_by);

-- Every daemon that has run against this database, with its latest heartbeat.
CREATE TABLE nodes (
    name       TEXT COLLATE "C" PRIMARY KEY,
    roles      TEXT COLLATE "C" NOT NULL,
    host       TEXT COLLATE "C" NOT NULL,
    pid        BIGINT NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    beat_at    TEXT COLLATE "C" NOT NULL
);
