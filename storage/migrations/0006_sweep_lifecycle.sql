-- Sweep lifecycle, revisit checks.
--
-- Sweeps may also be 'paused' (their tasks wait) and 'cancelled'; reason
-- says why a sweep is paused, failed or cancelled. blocked_streak counts
-- the ErrKindBlocked errors recorded in a row with no page fetched in
-- between; resumes counts the times the sweep was resumed (it names the
-- queue tasks of each resume). A task may also be 'parked' (picked up
-- while its sweep was paused, not run) or 'cancelled' (never run).
--
-- The status and state CHECK constraints are widened. PostgreSQL replaces
-- them below; SQLite cannot alter a constraint, so the catalog rewrites
-- the two tables' definitions in the same transaction (see
-- relaxLifecycleChecks in catalog_migrate_dialect.go): every row already
-- stored satisfies the wider constraint, so no row is copied or touched.
ALTER TABLE sweeps ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sweeps ADD COLUMN blocked_streak BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sweeps ADD COLUMN resumes BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sweeps_target_status ON sweeps (target, status);

-- A listing fetched again within its target's revisit interval and found
-- unchanged (a 304 to a conditional request, or the same content): no
-- capture is made, and this row says it was checked and against which
-- capture. One per listing per sweep.
CREATE TABLE listing_checks (
    sweep_id          TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    target            TEXT NOT NULL,
    url               TEXT NOT NULL,
    capture_id        TEXT NOT NULL,
    checked_at        BIGINT NOT NULL,
    status            BIGINT NOT NULL,
    result            TEXT NOT NULL CHECK (result IN ('not_modified', 'same_content')),
    if_none_match     TEXT NOT NULL,
    if_modified_since TEXT NOT NULL,
    PRIMARY KEY (sweep_id, url)
);
CREATE INDEX listing_checks_listing ON listing_checks (target, url, checked_at);

-- dialect: postgres
ALTER TABLE sweeps DROP CONSTRAINT sweeps_status_check;
ALTER TABLE sweeps ADD CONSTRAINT sweeps_status_check
    CHECK (status IN ('queued', 'running', 'paused', 'cancelled', 'finished', 'failed'));
ALTER TABLE sweep_tasks DROP CONSTRAINT sweep_tasks_state_check;
ALTER TABLE sweep_tasks ADD CONSTRAINT sweep_tasks_state_check
    CHECK (state IN ('pending', 'parked', 'done', 'failed', 'cancelled'));
