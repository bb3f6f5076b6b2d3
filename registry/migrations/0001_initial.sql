-- The registry table keeps the name of the registration workflow.
CREATE TABLE model_registry_entries (
    id                bigserial PRIMARY KEY,
    model_name        text        NOT NULL,
    environment       text        NOT NULL,
    namespace         text        NOT NULL,
    endpoint          text        NOT NULL,
    status            text        NOT NULL CHECK (status IN ('ready', 'pending', 'disabled')),
    health            text        NOT NULL DEFAULT 'Unknown',
    last_health_check timestamptz,
    managed_by        text        NOT NULL CHECK (managed_by IN ('manifest', 'cli')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deregistered_at   timestamptz,
    CONSTRAINT model_registry_entries_model_environment_key UNIQUE (model_name, environment)
);

-- Listing by environment (plan, export, list --environment) uses this index.
CREATE INDEX model_registry_entries_environment_idx ON model_registry_entries (environment);

-- One counter per environment; every applied plan increments it once.
CREATE TABLE registry_revisions (
    environment text   PRIMARY KEY,
    revision    bigint NOT NULL
);

CREATE TABLE registry_audit_log (
    id           bigserial   PRIMARY KEY,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    environment  text        NOT NULL,
    revision     bigint      NOT NULL,
    plan_id      text        NOT NULL,
    action       text        NOT NULL,
    model_name   text        NOT NULL,
    actor        text        NOT NULL,
    commit_sha   text,
    pipeline_url text,
    before       jsonb,
    after        jsonb
);

CREATE INDEX registry_audit_log_environment_model_idx
    ON registry_audit_log (environment, model_name, id);

-- The audit log is append-only: history must not be rewritten, even by accident.
CREATE FUNCTION registry_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'registry_audit_log is append-only';
END;
$$;

CREATE TRIGGER registry_audit_log_append_only
    BEFORE UPDATE OR DELETE ON registry_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_log_append_only();

-- Cache keys to delete from Redis, written in the same transaction as the change.
CREATE TABLE registry_cache_outbox (
    id          bigserial   PRIMARY KEY,
    cache_key   text        NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT now()
);
