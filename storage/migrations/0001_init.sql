-- The catalog's first schema. One text for SQLite and PostgreSQL: types both
-- accept, times as BIGINT unix microseconds (UTC), JSON documents as TEXT.

-- Targets as applied: the parsed target (JSON) and the YAML it came from.
CREATE TABLE targets (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One pass over a target. target_spec is the target (JSON) the sweep was
-- started with, so later edits of the target do not change a past sweep.
CREATE TABLE sweeps (
    id          TEXT PRIMARY KEY,
    target      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    finished_at BIGINT,
    target_spec TEXT NOT NULL
);
CREATE INDEX sweeps_created ON sweeps (created_at);
CREATE INDEX sweeps_target_created ON sweeps (target, created_at);

-- One row per queued step of a sweep: the source of truth for progress and
-- for deciding that a sweep is finished. kind is 'index' or 'listing' for
-- pages; other steps (a sweep's start) use kinds of their own.
CREATE TABLE sweep_tasks (
    sweep_id   TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    task_key   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    url        TEXT NOT NULL,
    page       BIGINT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (sweep_id, task_key)
);
CREATE INDEX sweep_tasks_progress ON sweep_tasks (sweep_id, state, kind);

CREATE TABLE sweep_errors (
    sweep_id    TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX sweep_errors_sweep ON sweep_errors (sweep_id, occurred_at);

-- Capture metadata (the wildwatch.Capture without its body, as JSON), what
-- was read from the page and decided about it, and where its evidence lies.
CREATE TABLE captures (
    id           TEXT PRIMARY KEY,
    sweep_id     TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    target       TEXT NOT NULL,
    url          TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL,
    meta         TEXT NOT NULL,
    listing      TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    manifest_key TEXT NOT NULL,
    warc_key     TEXT NOT NULL,
    warc_sha256  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX captures_sweep ON captures (sweep_id, fetched_at);
CREATE INDEX captures_url ON captures (url, fetched_at);

-- At most one flag per capture. The flag keeps its own copy of the listing
-- and verdict that raised it.
CREATE TABLE flags (
    id         TEXT PRIMARY KEY,
    sweep_id   TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    capture_id TEXT NOT NULL UNIQUE,
    target     TEXT NOT NULL,
    url        TEXT NOT NULL,
    category   TEXT NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('new', 'confirmed', 'dismissed')),
    rule_set   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    listing    TEXT NOT NULL,
    verdict    TEXT NOT NULL
);
CREATE INDEX flags_created ON flags (created_at);
CREATE INDEX flags_sweep ON flags (sweep_id);
CREATE INDEX flags_target_created ON flags (target, created_at);
CREATE INDEX flags_status_created ON flags (status, created_at);
CREATE INDEX flags_category_created ON flags (category, created_at);

-- Review decisions on a flag, numbered 1, 2, … per flag.
CREATE TABLE reviews (
    flag_id     TEXT NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('confirmed', 'dismissed')),
    note        TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    reviewed_at BIGINT NOT NULL,
    PRIMARY KEY (flag_id, seq)
);

-- API tokens: only a hash of each token is kept.
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
