-- The web console: people who sign in with a name and password, their
-- sessions, and the cases investigators build from flags.
--
-- users.password is a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash);
-- the catalog never sees a password. disabled users cannot sign in and
-- lose their sessions.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    password   TEXT NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A console session is keyed by the SHA-256 (hex) of its cookie value.
-- principal is the user or token name it was opened with, kind says which
-- ('user' or 'token'), role its role when opened; csrf is the session's
-- anti-forgery secret. A session ends at expires_at (idle) or max_at
-- (absolute), whichever comes first.
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'token')),
    role       TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_at     BIGINT NOT NULL,
    remote     TEXT NOT NULL
);
CREATE INDEX console_sessions_principal ON console_sessions (principal, kind);

-- A case groups flags an investigator means to export together.
CREATE TABLE cases (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    notes      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE case_flags (
    case_id  TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    flag_id  TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, flag_id)
);
