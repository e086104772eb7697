-- Subject access requests (UK GDPR article 15; domain rules, "Subject access
-- requests"): each request with what it covers, its state and the facts its statutory
-- clock is worked out from (app/src/sar/rules.rs), and every step, in order.
CREATE TABLE access_requests (
    id                      INTEGER PRIMARY KEY,
    -- Random, for pages and forms.
    public_id               TEXT    NOT NULL UNIQUE,
    patient_id              INTEGER NOT NULL REFERENCES patients (id),
    -- Who asked: the patient or a proxy signed in (their account).
    requested_by_account_id INTEGER REFERENCES accounts (id),
    requester_kind          TEXT    NOT NULL CHECK (requester_kind IN ('patient', 'proxy', 'desk')),
    channel                 TEXT    NOT NULL CHECK (channel IN ('online', 'post', 'phone', 'email')),
    -- JSON: {"everything":true,"sections":[...]}.
    scope                   TEXT    NOT NULL,
    date_from               TEXT,
    date_to                 TEXT,
    note                    TEXT,
    -- The day the request was received (YYYY-MM-DD): the clock's start.
    received_on             TEXT    NOT NULL,
    state                   TEXT    NOT NULL CHECK (state IN ('received', 'awaiting_identity',
                                'awaiting_clarification', 'in_review', 'fulfilled', 'refused')),
    -- JSON: the clock's pauses [{"from":"…","until":"…"|null}] and its extension.
    pauses                  TEXT    NOT NULL,
    extension               TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX access_requests_by_patient ON access_requests (patient_id, created_at);
CREATE INDEX access_requests_by_state ON access_requests (state);

CREATE TABLE access_request_events (
    id               INTEGER PRIMARY KEY,
    request_id       INTEGER NOT NULL REFERENCES access_requests (id),
    occurred_at      INTEGER NOT NULL,
    event            TEXT    NOT NULL,
    actor_kind       TEXT    NOT NULL,
    actor_account_id INTEGER REFERENCES accounts (id),
    -- What the requester is told (a refusal's reason, an extension's reason).
    note             TEXT,
    state_after      TEXT    NOT NULL
);
CREATE INDEX access_request_events_by_request ON access_request_events (request_id, occurred_at);
