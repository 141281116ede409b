-- The review queue filters flags by their listing's language, which lives
-- in the listing's JSON: an index on that expression (the same expression
-- the queries use, per dialect) keeps the filter and its facet from
-- reading every flag.

-- dialect: sqlite
CREATE INDEX flags_lang_created ON flags (json_extract(listing, '$.lang'), created_at);

-- dialect: postgres
CREATE INDEX flags_lang_created ON flags (((listing::jsonb ->> 'lang')), created_at);
