-- The audit trail and the release rules' history stay append-only against every way of
-- changing rows (issue #15). PostgreSQL has no REPLACE; an upsert's update fires the
-- UPDATE triggers. The audit trail already refused UPDATE, DELETE and TRUNCATE; the
-- release rules refused UPDATE only: they and their rule sets now refuse all three.
CREATE TRIGGER release_rules_no_delete BEFORE DELETE ON release_rules
    FOR EACH ROW EXECUTE FUNCTION release_rules_refuse_update();

CREATE TRIGGER release_rules_no_truncate BEFORE TRUNCATE ON release_rules
    FOR EACH STATEMENT EXECUTE FUNCTION release_rules_refuse_update();

CREATE TRIGGER release_rule_sets_no_change BEFORE UPDATE OR DELETE ON release_rule_sets
    FOR EACH ROW EXECUTE FUNCTION release_rules_refuse_update();

CREATE TRIGGER release_rule_sets_no_truncate BEFORE TRUNCATE ON release_rule_sets
    FOR EACH STATEMENT EXECUTE FUNCTION release_rules_refuse_update();
