-- The audit trail and the release rules' history stay append-only against every way of
-- changing rows (issue #15). UPDATE and DELETE were refused already for the audit
-- trail; but SQLite's REPLACE conflict resolution (`INSERT OR REPLACE`, `REPLACE INTO`,
-- an upsert) removes the conflicting row without firing DELETE triggers, so an insert
-- that would collide with an existing row is refused before it happens. The release
-- rules and their rule sets get the same: no update, no delete, no replacement.
CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
    WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER release_rules_no_delete BEFORE DELETE ON release_rules
BEGIN
    SELECT RAISE(ABORT, 'release rules are versioned: write a new rule set');
END;

CREATE TRIGGER release_rules_no_replace BEFORE INSERT ON release_rules
    WHEN EXISTS (SELECT 1 FROM release_rules
                 WHERE rule_set_version = NEW.rule_set_version
                   AND (position = NEW.position OR name = NEW.name))
BEGIN
    SELECT RAISE(ABORT, 'release rules are versioned: write a new rule set');
END;

CREATE TRIGGER release_rule_sets_no_update BEFORE UPDATE ON release_rule_sets
BEGIN
    SELECT RAISE(ABORT, 'release rules are versioned: write a new rule set');
END;

CREATE TRIGGER release_rule_sets_no_delete BEFORE DELETE ON release_rule_sets
BEGIN
    SELECT RAISE(ABORT, 'release rules are versioned: write a new rule set');
END;

CREATE TRIGGER release_rule_sets_no_replace BEFORE INSERT ON release_rule_sets
    WHEN NEW.version IS NOT NULL
         AND EXISTS (SELECT 1 FROM release_rule_sets WHERE version = NEW.version)
BEGIN
    SELECT RAISE(ABORT, 'release rules are versioned: write a new rule set');
END;
