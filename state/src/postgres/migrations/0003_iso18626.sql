-- Version 3: ISO 18626. A request a partner's ILL system sent keeps the requester's side here;
-- every message in and out is kept; status messages wait in an outbox until confirmed.
-- All go with their request when retention removes it.
CREATE TABLE ill_transactions (
    request_id               TEXT COLLATE "C" PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    peer_agency_type         TEXT COLLATE "C" NOT NULL,
    peer_agency_id           TEXT COLLATE "C" NOT NULL,
    requester_request_id     TEXT COLLATE "C" NOT NULL,
    multiple_item_request_id TEXT COLLATE "C",
    service_type             TEXT COLLATE "C" NOT NULL,
    status                   TEXT COLLATE "C" NOT NULL,
    basis_given              BOOLEAN NOT NULL,
    created_at               TEXT COLLATE "C" NOT NULL,
    updated_at               TEXT COLLATE "C" NOT NULL,
    UNIQUE (peer_agency_type, peer_agency_id, requester_request_id)
);

CREATE TABLE ill_messages (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT COLLATE "C" REFERENCES requests(id) ON DELETE CASCADE,
    peer       TEXT COLLATE "C" NOT NULL,
    direction  TEXT COLLATE "C" NOT NULL CHECK (direction IN ('in', 'out')),
    kind       TEXT COLLATE "C" NOT NULL,
    summary    TEXT COLLATE "C" NOT NULL,
    body       TEXT COLLATE "C" NOT NULL,
    at         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ill_messages_by_request ON ill_messages(request_id);
CREATE INDEX ill_messages_by_peer ON ill_messages(peer, id);

CREATE TABLE ill_outbox (
    id              BIGSERIAL PRIMARY KEY,
    request_id      TEXT COLLATE "C" NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    peer            TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    body            TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C" NOT NULL,
    last_error      TEXT COLLATE "C",
    created_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ill_outbox_due ON ill_outbox(state, next_attempt_at);

