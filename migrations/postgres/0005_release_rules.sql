-- Release delays (domain rules, "Release delays"): the rule table, versioned. A change
-- never edits a rule in place: it writes a whole new rule set with the next version, so
-- the rules in force at any moment can be shown afterwards. The change itself is audited.
CREATE TABLE release_rule_sets (
    version    BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    -- Who made the change: 'configuration' (the file read at start-up) or a staff account.
    changed_by TEXT   NOT NULL
);

CREATE TABLE release_rules (
    rule_set_version BIGINT  NOT NULL REFERENCES release_rule_sets (version),
    position         INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    -- The keys; NULL matches anything.
    source_ods_code  TEXT,
    category         TEXT,
    code             TEXT,
    abnormal         BOOLEAN,
    policy           TEXT    NOT NULL CHECK (policy IN ('immediately', 'after_days', 'clinician_release')),
    delay_days       INTEGER CHECK ((policy = 'after_days') = (delay_days IS NOT NULL)),
    PRIMARY KEY (rule_set_version, position),
    UNIQUE (rule_set_version, name)
);

CREATE FUNCTION release_rules_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'release rules are versioned: write a new rule set';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER release_rules_no_update BEFORE UPDATE ON release_rules
    FOR EACH ROW EXECUTE FUNCTION release_rules_refuse_update();

-- "What is new since your last visit" needs the visit before this one.
ALTER TABLE accounts ADD COLUMN previous_sign_in_at BIGINT;
