-- Version 9: ISO 18626. A request a partner's ILL system sent keeps the requester's side here;
-- every message in and out is kept; status messages wait in an outbox until confirmed.
-- All go with their request when retention removes it.
CREATE TABLE ill_transactions (
    request_id               TEXT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    peer_agency_type         TEXT NOT NULL,
    peer_agency_id           TEXT NOT NULL,
    requester_request_id     TEXT NOT NULL,
    multiple_item_request_id TEXT,
    service_type             TEXT NOT NULL,
    status                   TEXT NOT NULL,
    basis_given              INTEGER NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    UNIQUE (peer_agency_type, peer_agency_id, requester_request_id)
);

CREATE TABLE ill_messages (
    id         INTEGER PRIMARY KEY,
    request_id TEXT REFERENCES requests(id) ON DELETE CASCADE,
    peer       TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind       TEXT NOT NULL,
    summary    TEXT NOT NULL,
    body       TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX ill_messages_by_request ON ill_messages(request_id);
CREATE INDEX ill_messages_by_peer ON ill_messages(peer, id);

CREATE TABLE ill_outbox (
    id              INTEGER PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    peer            TEXT NOT NULL,
    status          TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX ill_outbox_due ON ill_outbox(state, next_attempt_at);

INSERT INTO schema_history (version, applied_at)
VALUES (9, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
