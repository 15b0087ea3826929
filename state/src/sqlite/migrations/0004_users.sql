-- Version 4: staff users of the web console, their sessions, and failed logins (for rate
-- limiting). Borrowers never have a row here: they reach only their own /d/ link.

-- `password` is an argon2id PHC string; the password itself is never stored.
CREATE TABLE staff_users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('technician', 'compliance', 'admin')),
    password   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Only the SHA-256 of the session id is kept, so a copy of the database opens no session.
-- `csrf` is the token every form of this session must carry back.
CREATE TABLE staff_sessions (
    id_sha256  TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES staff_users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX staff_sessions_by_expiry ON staff_sessions(expires_at);

-- One row per failed login and per key it counts against (`user:NAME`, `client:ADDRESS`).
CREATE TABLE staff_login_failures (
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX staff_login_failures_by_key ON staff_login_failures(key, at);

INSERT INTO schema_history (version, applied_at)
VALUES (4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
