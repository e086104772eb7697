-- Core model (SQLite). Times are epoch milliseconds (UTC) so that both backends compare
-- them the same way; the PostgreSQL twin of this file has the same version number.

CREATE TABLE organisations (
    id                   INTEGER PRIMARY KEY,
    ods_code             TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('hospital_trust', 'gp_practice', 'community_service')),
    -- SHA-256 (hex) of the sender's bearer credential; NULL once revoked.
    credential_hash      TEXT    UNIQUE,
    credential_issued_at INTEGER,
    last_received_at     INTEGER,
    created_at           INTEGER NOT NULL
);

CREATE TABLE patients (
    id          INTEGER PRIMARY KEY,
    nhs_number  TEXT    NOT NULL UNIQUE,
    family_name TEXT,
    given_name  TEXT,
    birth_date  TEXT,
    gender      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One row per resource a source has sent, keyed on (sender, type, business identifier).
-- The display projection of the current version is kept in `details` (JSON) so that
-- reading a record never re-parses FHIR; the raw resource of every version is kept in
-- record_item_versions exactly as received.
CREATE TABLE record_items (
    id                INTEGER PRIMARY KEY,
    public_id         TEXT    NOT NULL UNIQUE,
    patient_id        INTEGER NOT NULL REFERENCES patients (id),
    source_org_id     INTEGER NOT NULL REFERENCES organisations (id),
    resource_type     TEXT    NOT NULL,
    identifier_system TEXT    NOT NULL,
    identifier_value  TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('appointment', 'document', 'diagnostic_report', 'observation', 'encounter')),
    parent_item_id    INTEGER REFERENCES record_items (id),
    current_version   INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    entered_in_error  INTEGER NOT NULL DEFAULT 0,
    title             TEXT    NOT NULL,
    -- When the thing happened, normalised to an instant for sorting and filtering, and
    -- the date as the sender wrote it (which may be partial: "2024-04").
    occurred_at       INTEGER,
    occurred_text     TEXT,
    details           TEXT    NOT NULL,
    -- Release clock inputs (domain rules, "Release delays").
    category          TEXT,
    code_system       TEXT,
    code              TEXT,
    abnormal          INTEGER,
    issued_at         INTEGER,
    effective_at      INTEGER,
    release_directive TEXT    NOT NULL DEFAULT 'none' CHECK (release_directive IN ('none', 'release_now', 'hold', 'retract')),
    first_received_at INTEGER NOT NULL,
    last_received_at  INTEGER NOT NULL,
    UNIQUE (source_org_id, resource_type, identifier_system, identifier_value)
);
CREATE INDEX record_items_by_patient ON record_items (patient_id, kind, occurred_at);
CREATE INDEX record_items_by_parent ON record_items (parent_item_id);

CREATE TABLE record_item_versions (
    item_id        INTEGER NOT NULL REFERENCES record_items (id),
    version        INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    sender_org_id  INTEGER NOT NULL REFERENCES organisations (id),
    content_sha256 TEXT    NOT NULL,
    raw_resource   TEXT    NOT NULL,
    PRIMARY KEY (item_id, version)
);

-- Privacy labels (domain rules, "Sensitive information"): from the configured code list
-- or from the sender's meta.security.
CREATE TABLE record_item_labels (
    item_id INTEGER NOT NULL REFERENCES record_items (id),
    label   TEXT    NOT NULL,
    origin  TEXT    NOT NULL CHECK (origin IN ('code_list', 'sender')),
    PRIMARY KEY (item_id, label)
);

-- People who sign in, keyed on their identity provider's subject.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    issuer          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('patient', 'service_desk')),
    identity_level  TEXT,
    patient_id      INTEGER REFERENCES patients (id),
    created_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER,
    UNIQUE (issuer, subject)
);

-- Server-side sessions. Only a hash of the cookie value is stored, so a copy of this table
-- cannot be used to sign in.
CREATE TABLE sessions (
    id_hash             TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    audience            TEXT    NOT NULL CHECK (audience IN ('patient', 'staff')),
    csrf_token          TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- Append-only audit trail: the triggers below refuse every change and deletion.
CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY,
    occurred_at      INTEGER NOT NULL,
    actor_kind       TEXT    NOT NULL,
    actor_account_id INTEGER REFERENCES accounts (id),
    actor_org_id     INTEGER REFERENCES organisations (id),
    patient_id       INTEGER REFERENCES patients (id),
    action           TEXT    NOT NULL,
    target           TEXT,
    outcome          TEXT    NOT NULL CHECK (outcome IN ('allowed', 'refused')),
    reason           TEXT,
    request_id       TEXT
);
CREATE INDEX audit_events_by_patient ON audit_events (patient_id, occurred_at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
