-- The audit trail's hash chain (issue #15; `app/src/audit/chain.rs`). Every audit row is
-- queued to be sealed as it is inserted; the portal's sealer takes the queue in order,
-- appends one link per row to `audit_chain` (its place, the row it seals and the hash of
-- both with the link before) and removes the row from the queue. The chain is as
-- append-only as the trail itself. The rows already in the trail are queued here, so the
-- chain covers them too.
CREATE TABLE audit_chain (
    seq      BIGINT PRIMARY KEY CHECK (seq > 0),
    event_id BIGINT NOT NULL UNIQUE REFERENCES audit_events (id),
    hash     TEXT   NOT NULL
);

CREATE TABLE audit_unsealed (
    event_id BIGINT PRIMARY KEY
);

-- No audit row may be committed between the back-fill and the trigger (by a portal
-- still running the previous version): it would be neither queued nor triggered.
LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO audit_unsealed (event_id) SELECT id FROM audit_events;

-- Once per statement, with every row it inserted: a page's audit rows go in as one
-- multi-row insert.
CREATE FUNCTION audit_events_queue_seal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_unsealed (event_id) SELECT id FROM inserted_rows;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_queue_seal AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_queue_seal();

CREATE FUNCTION audit_chain_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_chain is append-only';
END;
$$;

CREATE TRIGGER audit_chain_no_change BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_refuse_change();

CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_refuse_change();

-- The role the portal runs as (issue #15): it reads and writes what the portal needs,
-- but cannot update, delete or truncate the audit trail, its hash chain or the release
-- rules' history, and, owning no table, cannot alter them or their triggers either. The
-- schema's owner (the role that runs these migrations) keeps those powers. The portal
-- migrates with DATABASE_MIGRATION_URL as the owner and connects with DATABASE_URL as a
-- login role that is a member of `portal_app` (docs/operations.md).
--
-- `portal_app` is a group role (it cannot log in) shared by every portal database in
-- the cluster; the grants are per database. The portal calls this function after every
-- migration run (`storage::postgres::migrate`), so tables added later are granted and
-- the append-only ones stay revoked; a migration that adds an append-only table
-- replaces the function with that table in its list.
CREATE FUNCTION portal_grant_application_role() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    schema_name text := current_schema();
BEGIN
    -- Only the schema's owner grants (a portal_app member that migrates nothing new
    -- runs this too, and must not fail for want of powers it should not have).
    IF NOT pg_has_role(current_user,
                       (SELECT relowner FROM pg_class WHERE oid = 'audit_events'::regclass),
                       'USAGE') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'portal_app') THEN
        BEGIN
            CREATE ROLE portal_app NOLOGIN;
        EXCEPTION
            -- Another database's migration created it at the same moment.
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE WARNING 'role portal_app does not exist and this role cannot create '
                    'it: have it created (CREATE ROLE portal_app NOLOGIN) and migrate again';
                RETURN;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO portal_app', schema_name);
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO portal_app',
        schema_name);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO portal_app',
        schema_name);
    -- Append-only: rows go in, and are never changed or taken out.
    REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
        ON audit_events, audit_chain, release_rules, release_rule_sets FROM portal_app;
    -- The record of migrations is the owner's.
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM portal_app;
END;
$$;

SELECT portal_grant_application_role();
