-- Rule sets as applied: every version of every named rule set, with the
-- YAML source as applied and its SHA-256 (hex). Versions count 1, 2, … per
-- name.
CREATE TABLE rule_sets (
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    source     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX rule_sets_created ON rule_sets (created_at);

-- The active rule set version of the whole catalog. The table holds at most
-- one row (id 1), so activating a version deactivates the one before in the
-- same statement, and two versions can never be active at once.
CREATE TABLE active_rule_set (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    name    TEXT NOT NULL,
    version BIGINT NOT NULL,
    FOREIGN KEY (name, version) REFERENCES rule_sets (name, version)
);

-- Review statistics are read per rule set version.
CREATE INDEX flags_rule_set_created ON flags (rule_set, created_at);
