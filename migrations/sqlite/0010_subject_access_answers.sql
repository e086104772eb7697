-- The answer to a subject access request (UK GDPR article 15; docs/subject-access.md):
-- the items a clinical reviewer withheld, each with its exemption, reason and reviewer,
-- and the answer itself, kept as prepared when the request was fulfilled (so what the
-- requester downloads is what was reviewed) and downloadable until a set time.
CREATE TABLE access_request_withheld (
    id                     INTEGER PRIMARY KEY,
    request_id             INTEGER NOT NULL REFERENCES access_requests (id),
    item_public_id         TEXT    NOT NULL,
    exemption              TEXT    NOT NULL CHECK (exemption IN ('serious_harm', 'third_party')),
    reason                 TEXT    NOT NULL,
    -- The clinical reviewer's name and role, as recorded.
    reviewer               TEXT    NOT NULL,
    recorded_by_account_id INTEGER NOT NULL REFERENCES accounts (id),
    recorded_at            INTEGER NOT NULL,
    UNIQUE (request_id, item_public_id)
);

CREATE TABLE access_request_answers (
    request_id      INTEGER PRIMARY KEY REFERENCES access_requests (id),
    -- JSON: the prepared copy (app/src/export), rendered as FHIR, HTML or PDF on download.
    content         TEXT    NOT NULL,
    prepared_at     INTEGER NOT NULL,
    available_until INTEGER NOT NULL
);

-- The items a recorded clinical review covered (JSON: [["public id", version], …]): an
-- answer is sent only if it holds nothing the review did not see.
ALTER TABLE access_requests ADD COLUMN reviewed_items TEXT;
