-- Version 3: copyright compliance. How each delivery was counted under the CONTU rule of five,
-- e-mail notices of held deliveries (sent only on release), and the salt of patron pseudonyms.

-- One row per delivery: what it was a copy of, and whether it counted toward the limit.
-- `ident` is a valid ISSN (periodicals) or ISBN-13 (other works); `title_key` the normalised
-- title; `year` the calendar year of the request.
CREATE TABLE counted_copies (
    delivery_id TEXT PRIMARY KEY REFERENCES deliveries(id),
    library     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('periodical', 'book')),
    ident       TEXT,
    title_key   TEXT NOT NULL,
    title       TEXT NOT NULL,
    published   INTEGER,
    year        INTEGER NOT NULL,
    counted     INTEGER NOT NULL,
    nth         INTEGER NOT NULL
);
CREATE INDEX counted_by_title ON counted_copies(library, year, kind, title_key);
CREATE INDEX counted_by_ident ON counted_copies(library, year, kind, ident);
CREATE INDEX counted_by_year ON counted_copies(year);

-- The notice of a held delivery waits here, unsendable, until release moves it to `notices`.
CREATE TABLE held_notices (
    delivery_id TEXT PRIMARY KEY REFERENCES deliveries(id),
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Per-installation secrets that never leave the database.
CREATE TABLE compliance_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO compliance_keys (name, value) VALUES ('pseudonym_salt', randomblob(32));

-- Retention and pseudonymisation select by request date and touch each delivery's notices.
CREATE INDEX requests_by_created ON requests(created_at);
CREATE INDEX notices_by_delivery ON notices(delivery_id);

INSERT INTO schema_history (version, applied_at)
VALUES (3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
