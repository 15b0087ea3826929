-- Quire state on PostgreSQL, version 1: the same tables and columns as the SQLite schema at its
-- version 7 (state/src/sqlite/migrations/0001..0007), in one step, since no PostgreSQL
-- database predates it. Later changes add numbered files here, as SQLite's do.
--
-- Times are TEXT in the one fixed format `Timestamp` writes, compared as text: every text
-- column uses the "C" collation (byte order, as SQLite's BINARY), so a cluster made with
-- another locale orders times and ids the same way. Counts and sizes are BIGINT; flags that
-- SQLite kept as 0/1 are BOOLEAN.

-- What a borrower asked for; `id` is the ILL transaction number.
CREATE TABLE requests (
    id              TEXT COLLATE "C" PRIMARY KEY,
    patron_name     TEXT COLLATE "C" NOT NULL,
    patron_email    TEXT COLLATE "C" NOT NULL,
    library         TEXT COLLATE "C",
    title           TEXT COLLATE "C",
    issn            TEXT COLLATE "C",
    isbn            TEXT COLLATE "C",
    article         TEXT COLLATE "C",
    author          TEXT COLLATE "C",
    year            INTEGER,
    volume          TEXT COLLATE "C",
    issue           TEXT COLLATE "C",
    pages           TEXT COLLATE "C",
    basis           TEXT COLLATE "C" NOT NULL DEFAULT 'ccl',
    basis_reference TEXT COLLATE "C",
    link_days       INTEGER,
    link_downloads  INTEGER,
    created_at      TEXT COLLATE "C" NOT NULL,
    pseudonymised_at TEXT COLLATE "C"
);
CREATE INDEX requests_by_created ON requests(created_at);

-- One scan (a file, a folder or a split batch) in custody, moving through its states.
CREATE TABLE jobs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    request_id    TEXT COLLATE "C" REFERENCES requests(id),
    state         TEXT COLLATE "C" NOT NULL CHECK (state IN
                    ('received', 'processing', 'processed', 'delivered', 'held', 'failed', 'split')),
    hold_reason   TEXT COLLATE "C",
    source_name   TEXT COLLATE "C" NOT NULL,
    spool_path    TEXT COLLATE "C" NOT NULL,
    source_sha256 TEXT COLLATE "C" NOT NULL,
    page_count    BIGINT,
    report_json   TEXT COLLATE "C",
    output_sha256 TEXT COLLATE "C",
    error_code    TEXT COLLATE "C",
    error_message TEXT COLLATE "C",
    created_at    TEXT COLLATE "C" NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL,
    parent_job    TEXT COLLATE "C" REFERENCES jobs(id)
);
CREATE INDEX jobs_by_state ON jobs(state);
CREATE INDEX jobs_by_source ON jobs(source_sha256);
CREATE INDEX jobs_by_parent ON jobs(parent_job);

-- Per-page findings kept for near-duplicate search and review.
CREATE TABLE pages (
    job_id         TEXT COLLATE "C" NOT NULL REFERENCES jobs(id),
    page_no        BIGINT NOT NULL,
    source_file    TEXT COLLATE "C" NOT NULL,
    source_page    BIGINT NOT NULL,
    phash          BYTEA,
    minhash        BYTEA,
    printed_page   TEXT COLLATE "C",
    ocr_confidence DOUBLE PRECISION,
    word_count     BIGINT,
    blank          BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (job_id, page_no)
);

-- A processed (unstamped) searchable PDF, keyed by its content hash in the store.
CREATE TABLE documents (
    sha256     TEXT COLLATE "C" PRIMARY KEY,
    bytes      BIGINT NOT NULL,
    page_count BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);

-- One stamped copy made for one recipient.
CREATE TABLE deliveries (
    id              TEXT COLLATE "C" PRIMARY KEY,
    request_id      TEXT COLLATE "C" NOT NULL REFERENCES requests(id),
    job_id          TEXT COLLATE "C" REFERENCES jobs(id),
    document_sha256 TEXT COLLATE "C" NOT NULL,
    stamped_sha256  TEXT COLLATE "C" NOT NULL,
    basis           TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('held', 'active', 'purged')),
    hold_reason     TEXT COLLATE "C",
    created_at      TEXT COLLATE "C" NOT NULL,
    purged_at       TEXT COLLATE "C",
    file_name       TEXT COLLATE "C" NOT NULL DEFAULT 'document.pdf',
    bytes           BIGINT NOT NULL DEFAULT 0,
    page_count      BIGINT NOT NULL DEFAULT 0,
    recipient       TEXT COLLATE "C" NOT NULL DEFAULT '',
    library         TEXT COLLATE "C"
);
CREATE INDEX deliveries_by_request ON deliveries(request_id);
CREATE INDEX deliveries_by_stamped ON deliveries(stamped_sha256);
CREATE UNIQUE INDEX deliveries_one_per_job ON deliveries(job_id) WHERE job_id IS NOT NULL;

-- A borrower's way to a delivery. Only the token's hash is kept.
CREATE TABLE links (
    id             TEXT COLLATE "C" PRIMARY KEY,
    delivery_id    TEXT COLLATE "C" NOT NULL REFERENCES deliveries(id),
    token_sha256   TEXT COLLATE "C" NOT NULL UNIQUE,
    expires_at     TEXT COLLATE "C" NOT NULL,
    downloads_left BIGINT NOT NULL,
    pickup_code_sha256 TEXT COLLATE "C",
    revoked_at     TEXT COLLATE "C",
    created_at     TEXT COLLATE "C" NOT NULL,
    downloads_allowed BIGINT NOT NULL DEFAULT 0,
    -- When the last download was used or the link was revoked; expiry needs no column.
    ended_at       TEXT COLLATE "C",
    locked_at      TEXT COLLATE "C",
    code_failures  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX links_by_delivery ON links(delivery_id);

-- The tamper-evident log: each row's hash covers the previous row's hash. `subjects` and
-- `details` are the JSON text exactly as sealed.
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    time      TEXT COLLATE "C" NOT NULL,
    actor     TEXT COLLATE "C" NOT NULL,
    action    TEXT COLLATE "C" NOT NULL,
    subjects  TEXT COLLATE "C" NOT NULL,
    details   TEXT COLLATE "C" NOT NULL,
    prev_hash TEXT COLLATE "C" NOT NULL,
    hash      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_by_action ON audit_events(action);
CREATE INDEX audit_by_time ON audit_events(time);

-- Left behind when old events are pruned, so the remaining chain still verifies.
CREATE TABLE audit_checkpoints (
    through_seq BIGINT PRIMARY KEY,
    head_hash   TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);

-- The application never rewrites history; these make an accident loud.
CREATE FUNCTION audit_events_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_no_update();
CREATE FUNCTION audit_events_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE through_seq >= OLD.seq) THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_no_delete();

-- E-mail notices, written in the same transaction as the delivery.
CREATE TABLE notices (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   TEXT COLLATE "C" NOT NULL REFERENCES deliveries(id),
    recipient     TEXT COLLATE "C" NOT NULL,
    subject       TEXT COLLATE "C" NOT NULL,
    body          TEXT COLLATE "C" NOT NULL,
    state         TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C" NOT NULL,
    last_error    TEXT COLLATE "C",
    created_at    TEXT COLLATE "C" NOT NULL,
    sent_at       TEXT COLLATE "C"
);
CREATE INDEX notices_due ON notices(state, next_attempt_at);
CREATE INDEX notices_by_delivery ON notices(delivery_id);

-- How each delivery was counted under the CONTU rule of five.
CREATE TABLE counted_copies (
    delivery_id TEXT COLLATE "C" PRIMARY KEY REFERENCES deliveries(id),
    library     TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('periodical', 'book')),
    ident       TEXT COLLATE "C",
    title_key   TEXT COLLATE "C" NOT NULL,
    title       TEXT COLLATE "C" NOT NULL,
    published   INTEGER,
    year        INTEGER NOT NULL,
    counted     BOOLEAN NOT NULL,
    nth         BIGINT NOT NULL
);
CREATE INDEX counted_by_title ON counted_copies(library, year, kind, title_key);
CREATE INDEX counted_by_ident ON counted_copies(library, year, kind, ident);
CREATE INDEX counted_by_year ON counted_copies(year);

-- The notice of a held delivery waits here, unsendable, until release moves it to `notices`.
CREATE TABLE held_notices (
    delivery_id TEXT COLLATE "C" PRIMARY KEY REFERENCES deliveries(id),
    recipient   TEXT COLLATE "C" NOT NULL,
    subject     TEXT COLLATE "C" NOT NULL,
    body        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);

-- Per-installation secrets that never leave the database. The salt: 32 random bytes (two
-- random UUIDs, built in since PostgreSQL 13; no extension needed).
CREATE TABLE compliance_keys (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
INSERT INTO compliance_keys (name, value)
VALUES ('pseudonym_salt',
        decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

-- Staff users of the web console, their sessions, and failed logins.
CREATE TABLE staff_users (
    name       TEXT COLLATE "C" PRIMARY KEY,
    role       TEXT COLLATE "C" NOT NULL CHECK (role IN ('technician', 'compliance', 'admin')),
    password   TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE staff_sessions (
    id_sha256  TEXT COLLATE "C" PRIMARY KEY,
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES staff_users(name) ON DELETE CASCADE,
    csrf       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX staff_sessions_by_expiry ON staff_sessions(expires_at);
CREATE TABLE staff_login_failures (
    key TEXT COLLATE "C" NOT NULL,
    at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX staff_login_failures_by_key ON staff_login_failures(key, at);

-- Limits on guessing a link's pickup code, and download sessions.
CREATE TABLE pickup_failures (
    id      BIGSERIAL PRIMARY KEY,
    link_id TEXT COLLATE "C" NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    client  TEXT COLLATE "C" NOT NULL,
    at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX pickup_failures_by_link ON pickup_failures(link_id, at);
CREATE INDEX pickup_failures_by_client ON pickup_failures(client, at);
CREATE TABLE link_downloads (
    id      BIGSERIAL PRIMARY KEY,
    link_id TEXT COLLATE "C" NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    client  TEXT COLLATE "C" NOT NULL,
    at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX link_downloads_by_link ON link_downloads(link_id, client, at);

-- Failed tries at processing a job.
CREATE TABLE job_attempts (
    job_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    failures   INTEGER NOT NULL,
    last_error TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
