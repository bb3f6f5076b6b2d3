-- Integrity: the endpoint policy and value sets as constraints, least-privilege
-- roles, an audit log that refuses TRUNCATE and carries a tamper-evident hash chain.

-- The endpoint rule of registry/names.py (ENDPOINT), so that even a direct SQL write
-- cannot route to a host outside the cluster. ASCII classes only; the port is 1..65535.
ALTER TABLE model_registry_entries
    ADD CONSTRAINT model_registry_entries_endpoint_check CHECK (
        CASE WHEN endpoint ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.svc\.cluster\.local:[1-9][0-9]{0,4}$'
             THEN substring(endpoint FROM ':([0-9]+)$')::integer <= 65535
             ELSE false END),
    ADD CONSTRAINT model_registry_entries_model_name_check
        CHECK (model_name ~ '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'),
    ADD CONSTRAINT model_registry_entries_environment_check
        CHECK (environment ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    ADD CONSTRAINT model_registry_entries_namespace_check
        CHECK (namespace ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    ADD CONSTRAINT model_registry_entries_health_check
        CHECK (health IN ('Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'));

-- TRUNCATE does not fire row or UPDATE/DELETE triggers: refuse it explicitly.
CREATE TRIGGER registry_audit_log_no_truncate
    BEFORE TRUNCATE ON registry_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_log_append_only();

-- The hash chain. Each row's chain_hash = sha256(previous row's chain_hash || its
-- content), per environment in id order. Per environment because the environment's
-- apply lock is held while its rows are written, so its chain is extended by one
-- writer at a time; a global chain would serialise every environment's applies.
-- recorded_at is hashed in UTC so the session's TimeZone does not matter; the id is
-- not (it is assigned as the row is inserted), the order of the chain is.
CREATE FUNCTION registry_audit_content(
    recorded_at timestamptz, environment text, revision bigint, plan_id text, action text,
    model_name text, actor text, commit_sha text, pipeline_url text, before jsonb, after jsonb
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(jsonb_build_array(
        to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        environment, revision, plan_id, action, model_name, actor, commit_sha, pipeline_url,
        before, after)::text, 'UTF8')
$$;

CREATE FUNCTION registry_audit_chain_step(state bytea, seed bytea, content bytea)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(COALESCE(state, seed, '\x'::bytea) || content)
$$;

-- Used as a window function (OVER (ORDER BY ...)), it chains a whole statement's rows
-- in one pass: no per-row query. seed: the hash of the row before the first one.
CREATE AGGREGATE registry_audit_chain(seed bytea, content bytea) (
    SFUNC = registry_audit_chain_step,
    STYPE = bytea
);

ALTER TABLE registry_audit_log ADD COLUMN chain_hash bytea;

-- Chain the rows written before this migration (the owner runs it, so the
-- append-only trigger may be set aside for this one statement).
ALTER TABLE registry_audit_log DISABLE TRIGGER registry_audit_log_append_only;
UPDATE registry_audit_log AS l SET chain_hash = c.chain_hash
FROM (
    SELECT id, registry_audit_chain(NULL, registry_audit_content(
               recorded_at, environment, revision, plan_id, action, model_name, actor,
               commit_sha, pipeline_url, before, after))
           OVER (PARTITION BY environment ORDER BY id) AS chain_hash
    FROM registry_audit_log
) AS c
WHERE l.id = c.id;
ALTER TABLE registry_audit_log ENABLE TRIGGER registry_audit_log_append_only;
ALTER TABLE registry_audit_log ALTER COLUMN chain_hash SET NOT NULL;

-- Finding an environment's last hash (each apply) and verifying in chain order.
CREATE INDEX registry_audit_log_environment_id_idx ON registry_audit_log (environment, id);

-- Least privilege. Roles are cluster-wide (another database of the same server may
-- have created them already); the grants below are per database.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['registry_writer', 'registry_reader'] LOOP
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- a concurrent migration of another database created it first
        END;
    END LOOP;
END;
$$;

-- registry_reader: the router (resolve) and plans in merge requests.
GRANT SELECT ON model_registry_entries, registry_revisions, registry_schema_migrations
    TO registry_reader;

-- registry_writer: apply, the imperative commands, the controller. No UPDATE, DELETE or
-- TRUNCATE on the audit log; not an owner, so no ALTER TABLE and no DISABLE TRIGGER.
GRANT SELECT, INSERT, UPDATE ON model_registry_entries, registry_revisions TO registry_writer;
GRANT SELECT, INSERT ON registry_audit_log TO registry_writer;
GRANT SELECT, INSERT, DELETE ON registry_cache_outbox TO registry_writer;
GRANT SELECT ON registry_schema_migrations TO registry_writer;
GRANT USAGE ON SEQUENCE model_registry_entries_id_seq, registry_audit_log_id_seq,
    registry_cache_outbox_id_seq TO registry_writer;
