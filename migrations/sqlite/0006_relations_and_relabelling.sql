-- How each item is linked to its relatives (a report and its results), however they were
-- delivered: a JSON object of sender-scoped keys ({"known_as":[...],"members":[...],
-- "belongs_to":[...]}), read with the item and grouped by the access decision.
ALTER TABLE record_items ADD COLUMN relations TEXT NOT NULL DEFAULT '{}';

-- Configuration whose change must be applied to what is already stored (the privacy code
-- list: a newly listed code must hide items already received). One row per setting,
-- with the fingerprint of the version last applied.
CREATE TABLE applied_settings (
    name        TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
);
