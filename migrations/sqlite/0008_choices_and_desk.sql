-- The patient's choices (domain rules, "Choices and opt-outs") and the service desk
-- console: leaving the portal, objections to a source, their history, the desk's
-- audited patient look-ups, and how held feed items were resolved.

-- When the patient left the portal (NULL: they have not, or came back).
ALTER TABLE patients ADD COLUMN left_portal_at INTEGER;

-- Sources whose records the patient asked not to be shown in the portal.
CREATE TABLE source_objections (
    patient_id      INTEGER NOT NULL REFERENCES patients (id),
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    since           INTEGER NOT NULL,
    PRIMARY KEY (patient_id, organisation_id)
);

-- Every choice made, by the patient online or by the desk on their behalf, in order:
-- what the patient sees as the history of their choices.
CREATE TABLE choice_events (
    id                 INTEGER PRIMARY KEY,
    patient_id         INTEGER NOT NULL REFERENCES patients (id),
    occurred_at        INTEGER NOT NULL,
    choice             TEXT    NOT NULL CHECK (choice IN ('left_portal', 'returned', 'objected', 'objection_withdrawn')),
    organisation_id    INTEGER REFERENCES organisations (id),
    actor_kind         TEXT    NOT NULL,
    actor_account_id   INTEGER REFERENCES accounts (id),
    channel            TEXT    NOT NULL CHECK (channel IN ('online', 'phone', 'post', 'in_person')),
    -- For the desk: the letter's or call's reference, and why it was recorded.
    evidence_reference TEXT,
    reason             TEXT
);
CREATE INDEX choice_events_by_patient ON choice_events (patient_id, occurred_at);

-- A desk agent's look-up of a patient, with the reason chosen: the console addresses
-- the patient by this random id, for this agent only, until it expires.
CREATE TABLE desk_lookups (
    public_id        TEXT    PRIMARY KEY,
    agent_account_id INTEGER NOT NULL REFERENCES accounts (id),
    patient_id       INTEGER NOT NULL REFERENCES patients (id),
    reason           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX desk_lookups_by_agent ON desk_lookups (agent_account_id, created_at);

-- Held feed items: a random id for the console, and how the desk resolved each.
ALTER TABLE held_resources ADD COLUMN public_id TEXT;
UPDATE held_resources SET public_id = lower(hex(randomblob(16))) WHERE public_id IS NULL;
CREATE UNIQUE INDEX held_resources_by_public_id ON held_resources (public_id);
ALTER TABLE held_resources ADD COLUMN resolution TEXT CHECK (resolution IN ('matched', 'returned'));
ALTER TABLE held_resources ADD COLUMN resolved_by_account_id INTEGER REFERENCES accounts (id);
ALTER TABLE held_resources ADD COLUMN resolution_reason TEXT;
ALTER TABLE held_resources ADD COLUMN matched_patient_id INTEGER REFERENCES patients (id);

-- Accounts the desk unlinked from a record (a wrong match), with the agent's reason.
CREATE TABLE account_unlinks (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    patient_id       INTEGER NOT NULL REFERENCES patients (id),
    agent_account_id INTEGER NOT NULL REFERENCES accounts (id),
    reason           TEXT    NOT NULL,
    unlinked_at      INTEGER NOT NULL
);
