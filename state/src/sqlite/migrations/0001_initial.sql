-- Quire state, version 1: the whole flow from request to audit, so later features add columns,
-- not upheavals. Times are RFC 3339 UTC text; ids are text chosen by the application.

CREATE TABLE schema_history (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
);

-- What a borrower asked for; `id` is the ILL transaction number.
CREATE TABLE requests (
    id              TEXT PRIMARY KEY,
    patron_name     TEXT NOT NULL,
    patron_email    TEXT NOT NULL,
    library         TEXT,
    title           TEXT,
    issn            TEXT,
    isbn            TEXT,
    article         TEXT,
    author          TEXT,
    year            INTEGER,
    volume          TEXT,
    issue           TEXT,
    pages           TEXT,
    basis           TEXT NOT NULL DEFAULT 'ccl',
    basis_reference TEXT,
    link_days       INTEGER,
    link_downloads  INTEGER,
    created_at      TEXT NOT NULL,
    pseudonymised_at TEXT
);

-- One scan (a file, a folder or a split batch) in custody, moving through its states.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    request_id    TEXT REFERENCES requests(id),
    state         TEXT NOT NULL CHECK (state IN
                    ('received', 'processing', 'processed', 'delivered', 'held', 'failed')),
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
    updated_at    TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs(state);
CREATE INDEX jobs_by_source ON jobs(source_sha256);

-- Per-page findings kept for near-duplicate search and review.
CREATE TABLE pages (
    job_id         TEXT NOT NULL REFERENCES jobs(id),
    page_no        INTEGER NOT NULL,
    source_file    TEXT NOT NULL,
    source_page    INTEGER NOT NULL,
    phash          BLOB,
    minhash        BLOB,
    printed_page   TEXT,
    ocr_confidence REAL,
    word_count     INTEGER,
    blank          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, page_no)
);

-- A processed (unstamped) searchable PDF, keyed by its content hash in the store.
CREATE TABLE documents (
    sha256     TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    page_count INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

-- One stamped copy made for one recipient.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES requests(id),
    job_id          TEXT REFERENCES jobs(id),
    document_sha256 TEXT NOT NULL,
    stamped_sha256  TEXT NOT NULL,
    basis           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('held', 'active', 'purged')),
    hold_reason     TEXT,
    created_at      TEXT NOT NULL,
    purged_at       TEXT
);
CREATE INDEX deliveries_by_request ON deliveries(request_id);
CREATE INDEX deliveries_by_stamped ON deliveries(stamped_sha256);

-- A borrower's way to a delivery. Only the token's hash is kept.
CREATE TABLE links (
    id             TEXT PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES deliveries(id),
    token_sha256   TEXT NOT NULL UNIQUE,
    expires_at     TEXT NOT NULL,
    downloads_left INTEGER NOT NULL,
    pickup_code_sha256 TEXT,
    revoked_at     TEXT,
    created_at     TEXT NOT NULL
);

-- The tamper-evident log: each row's hash covers the previous row's hash.
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subjects  TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_by_action ON audit_events(action);
CREATE INDEX audit_by_time ON audit_events(time);

-- Left behind when old events are pruned, so the remaining chain still verifies.
CREATE TABLE audit_checkpoints (
    through_seq INTEGER PRIMARY KEY,
    head_hash   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- The application never rewrites history; these make an accident loud. (A determined attacker
-- with the file can drop them, which is why `audit verify` recomputes the chain.)
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE through_seq >= OLD.seq)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

INSERT INTO schema_history (version, applied_at)
VALUES (1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
