-- A flag can be sent on for a second look: flags.status and
-- reviews.decision also take 'review'. PostgreSQL replaces the two
-- constraints; SQLite rewrites the definitions in place (relaxReviewChecks
-- in catalog_migrate_dialect.go), as migration 6 does.

-- dialect: postgres
ALTER TABLE flags DROP CONSTRAINT flags_status_check;
ALTER TABLE flags ADD CONSTRAINT flags_status_check
    CHECK (status IN ('new', 'confirmed', 'dismissed', 'review'));
ALTER TABLE reviews DROP CONSTRAINT reviews_decision_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_decision_check
    CHECK (decision IN ('confirmed', 'dismissed', 'review'));
