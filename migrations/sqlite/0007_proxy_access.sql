-- Proxy access (NHS standard DAPB3051; domain rules, "Proxy access"): grants that let one
-- person act for a patient, their history, the patient's invitations, and applications
-- the service desk verifies. Whether a grant is in force is worked out from these facts
-- and the clock at every read (app/src/proxy/rules.rs), never stored.

-- What NHS login proved about the person, kept from their latest sign-in: a proxy is
-- named to the patient by it, and an invitation is matched against it.
ALTER TABLE accounts ADD COLUMN given_name TEXT;
ALTER TABLE accounts ADD COLUMN family_name TEXT;
ALTER TABLE accounts ADD COLUMN birth_date TEXT;

CREATE TABLE proxy_grants (
    id                 INTEGER PRIMARY KEY,
    -- Random, for pages and forms: grants are never addressed by their key.
    public_id          TEXT   NOT NULL UNIQUE,
    patient_id         INTEGER NOT NULL REFERENCES patients (id),
    proxy_account_id   INTEGER NOT NULL REFERENCES accounts (id),
    basis              TEXT   NOT NULL CHECK (basis IN ('consent', 'parental_responsibility',
                                   'lasting_power_of_attorney', 'court_deputy')),
    -- How the proxy is related to the patient, in their words ("daughter", "father").
    relationship       TEXT   NOT NULL,
    -- JSON: {"appointments":bool,"letters":bool,"results":bool,"labels":[...]}.
    scope              TEXT   NOT NULL,
    state              TEXT   NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER,
    -- For verified bases: the evidence the service desk saw (an LPA registration number).
    evidence_reference TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
-- One live grant per person and patient: a second invitation changes nothing until the
-- first grant is revoked.
CREATE UNIQUE INDEX proxy_grants_one_live ON proxy_grants (patient_id, proxy_account_id)
    WHERE state <> 'revoked';
CREATE INDEX proxy_grants_by_proxy ON proxy_grants (proxy_account_id);

-- Every decision about a grant, in order: invited, accepted, granted, changed, suspended,
-- resumed, revoked. The audit trail has the same events as codes; this keeps what a
-- person wrote (a desk agent's reason) and the grant's terms after the change.
CREATE TABLE proxy_grant_events (
    id               INTEGER PRIMARY KEY,
    grant_id         INTEGER NOT NULL REFERENCES proxy_grants (id),
    occurred_at      INTEGER NOT NULL,
    event            TEXT   NOT NULL,
    actor_kind       TEXT   NOT NULL,
    actor_account_id INTEGER REFERENCES accounts (id),
    -- Who made the decision, as recorded by the desk (name and role).
    decision_maker   TEXT,
    reason           TEXT,
    -- JSON: the grant's state, scope, dates and basis after the event.
    terms            TEXT   NOT NULL
);
CREATE INDEX proxy_grant_events_by_grant ON proxy_grant_events (grant_id, occurred_at);

CREATE TABLE proxy_invitations (
    id                     INTEGER PRIMARY KEY,
    public_id              TEXT   NOT NULL UNIQUE,
    patient_id             INTEGER NOT NULL REFERENCES patients (id),
    invited_by_account_id  INTEGER NOT NULL REFERENCES accounts (id),
    given_name             TEXT   NOT NULL,
    family_name            TEXT   NOT NULL,
    birth_date             TEXT   NOT NULL,
    relationship           TEXT   NOT NULL,
    email                  TEXT,
    -- SHA-256 of the one-time code: the code itself is shown once, to the patient.
    code_hash              TEXT   NOT NULL UNIQUE,
    scope                  TEXT   NOT NULL,
    ends_at                INTEGER,
    created_at             INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    state                  TEXT   NOT NULL CHECK (state IN ('pending', 'accepted', 'withdrawn')),
    closed_at              INTEGER,
    grant_id               INTEGER REFERENCES proxy_grants (id)
);
CREATE INDEX proxy_invitations_by_patient ON proxy_invitations (patient_id, created_at);

CREATE TABLE proxy_applications (
    id                     INTEGER PRIMARY KEY,
    public_id              TEXT   NOT NULL UNIQUE,
    applicant_account_id   INTEGER NOT NULL REFERENCES accounts (id),
    basis                  TEXT   NOT NULL CHECK (basis IN ('parental_responsibility',
                                   'lasting_power_of_attorney', 'court_deputy')),
    relationship           TEXT   NOT NULL,
    patient_nhs_number     TEXT   NOT NULL,
    patient_birth_date     TEXT   NOT NULL,
    evidence_reference     TEXT   NOT NULL,
    created_at             INTEGER NOT NULL,
    state                  TEXT   NOT NULL CHECK (state IN ('pending', 'granted', 'refused')),
    decided_at             INTEGER,
    decided_by_account_id  INTEGER REFERENCES accounts (id),
    decision_maker         TEXT,
    reason                 TEXT,
    -- What the applicant is told of a refusal: a code from a fixed list, so that
    -- nothing about the patient reaches them.
    refusal                TEXT,
    grant_id               INTEGER REFERENCES proxy_grants (id)
);
CREATE INDEX proxy_applications_by_state ON proxy_applications (state, created_at);
CREATE INDEX proxy_applications_by_applicant ON proxy_applications (applicant_account_id);

-- Whose record a signed-in person is reading: their own (NULL) or a patient's they act
-- for under a grant.
ALTER TABLE sessions ADD COLUMN acting_for_grant_id INTEGER REFERENCES proxy_grants (id);

-- "Last used": the proxy's latest audited action on the patient's record.
CREATE INDEX audit_events_by_actor ON audit_events (actor_account_id, patient_id, occurred_at);
