-- Listing history. Each capture says how it compares with the capture of
-- the same URL before it (change: 'new', 'changed', 'unchanged' or
-- 'removed'; '' for captures recorded before this version), the WARC
-- payload digest of its response body ('sha256:<hex>') and the digest of
-- its content (the payload and, for a rendered page, the rendered DOM),
-- and, for an unchanged capture whose WARC holds a revisit record, the
-- capture whose WARC holds the response it refers to (refers_to).
ALTER TABLE captures ADD COLUMN change TEXT NOT NULL DEFAULT '';
ALTER TABLE captures ADD COLUMN payload_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE captures ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE captures ADD COLUMN refers_to TEXT NOT NULL DEFAULT '';
CREATE INDEX captures_sweep_change ON captures (sweep_id, change);

-- One row per listing (a target's listing URL), kept up to date from its
-- captures: when it was first and last seen, when its content last
-- changed, and whether it is active or was found removed (and when, by
-- which capture).
CREATE TABLE listings (
    target          TEXT NOT NULL,
    url             TEXT NOT NULL,
    listing_id      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('active', 'removed')),
    first_seen      BIGINT NOT NULL,
    first_capture   TEXT NOT NULL,
    last_seen       BIGINT NOT NULL,
    last_capture    TEXT NOT NULL,
    last_changed    BIGINT NOT NULL,
    removed_at      BIGINT,
    removed_capture TEXT NOT NULL,
    captures        BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (target, url)
);
CREATE INDEX listings_url ON listings (url);
CREATE INDEX listings_target_state ON listings (target, state, url);
CREATE INDEX listings_target_listing_id ON listings (target, listing_id);

-- Listings of the captures recorded before this version: every one of
-- them showed its listing, and each may have changed it.
INSERT INTO listings (target, url, listing_id, state, first_seen, first_capture, last_seen, last_capture,
                      last_changed, removed_at, removed_capture, captures, updated_at)
SELECT u.target, u.url, '', 'active', u.first_seen,
       (SELECT f.id FROM captures f WHERE f.target = u.target AND f.url = u.url ORDER BY f.fetched_at, f.id LIMIT 1),
       u.last_seen,
       (SELECT l.id FROM captures l WHERE l.target = u.target AND l.url = u.url ORDER BY l.fetched_at DESC, l.id DESC LIMIT 1),
       u.last_seen, NULL, '', u.n, u.last_seen
FROM (SELECT target, url, MIN(fetched_at) AS first_seen, MAX(fetched_at) AS last_seen, COUNT(*) AS n
      FROM captures GROUP BY target, url) u;
