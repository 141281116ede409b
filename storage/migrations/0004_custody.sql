-- The evidence access log (chain of custody): one row per access, numbered
-- 1, 2, … without gaps. Each row holds the SHA-256 (hex) of the row before
-- it (prev_hash; 64 zeros for the first) and its own hash over a canonical
-- encoding of all its fields including prev_hash, so that editing or
-- removing a row breaks the chain. Every row is also stored as the evidence
-- object custody/<seq, 12 digits>.json. Rows are only ever inserted.
-- remote is the client address ('' when none); link is the share link the
-- access went through or created ('' when none); detail is free text
-- (a link's expiry, an export's contents).
CREATE TABLE custody_log (
    seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    remote    TEXT NOT NULL,
    link      TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX custody_log_object ON custody_log (object, seq);
CREATE INDEX custody_log_link ON custody_log (link, seq);
