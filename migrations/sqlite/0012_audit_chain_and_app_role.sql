-- The audit trail's hash chain (issue #15; `app/src/audit/chain.rs`). Every audit row is
-- queued to be sealed as it is inserted; the portal's sealer takes the queue in order,
-- appends one link per row to `audit_chain` (its place, the row it seals and the hash of
-- both with the link before) and removes the row from the queue. The chain is as
-- append-only as the trail itself. The rows already in the trail are queued here, so the
-- chain covers them too.
CREATE TABLE audit_chain (
    seq      INTEGER PRIMARY KEY CHECK (seq > 0),
    event_id INTEGER NOT NULL UNIQUE REFERENCES audit_events (id),
    hash     TEXT    NOT NULL
);

CREATE TABLE audit_unsealed (
    event_id INTEGER PRIMARY KEY
);

INSERT INTO audit_unsealed (event_id) SELECT id FROM audit_events;

CREATE TRIGGER audit_events_queue_seal AFTER INSERT ON audit_events
BEGIN
    INSERT INTO audit_unsealed (event_id) VALUES (NEW.id);
END;

CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

CREATE TRIGGER audit_chain_no_replace BEFORE INSERT ON audit_chain
    WHEN EXISTS (SELECT 1 FROM audit_chain WHERE seq = NEW.seq OR event_id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

-- On PostgreSQL this migration also grants the role the portal runs as, which cannot
-- change the audit trail. SQLite has no roles: its triggers are what refuse, and the
-- file's permissions are the operator's (docs/operations.md).
