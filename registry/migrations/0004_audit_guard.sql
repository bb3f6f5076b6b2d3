-- Audit rows only as the write statement makes them (attack finding F5): a
-- registry_writer member's own INSERT can no longer pick the time, the id, free-form
-- fields or a hash that does not continue the chain (a garbage hash would break
-- `history --verify` for good). A writer can still append a row in the chain's format
-- at the current time: the limit of a keyless chain (README, "Audit log").

-- Formats of registry/names.py and the plan's actions; no control characters in the
-- free text from argv and CI. NOT VALID: rows written before this migration stay as
-- they are (the hash chain covers them).
ALTER TABLE registry_audit_log
    ADD CONSTRAINT registry_audit_log_action_check
        CHECK (action IN ('create', 'update', 'enable', 'disable', 'deregister')) NOT VALID,
    ADD CONSTRAINT registry_audit_log_model_name_check
        CHECK (model_name ~ '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$') NOT VALID,
    ADD CONSTRAINT registry_audit_log_environment_check
        CHECK (environment ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$') NOT VALID,
    ADD CONSTRAINT registry_audit_log_text_check
        CHECK (actor !~ '[[:cntrl:]]' AND plan_id !~ '[[:cntrl:]]'
               AND commit_sha !~ '[[:cntrl:]]' AND pipeline_url !~ '[[:cntrl:]]') NOT VALID;

-- Each row is recorded now, and its id comes from the sequence: the default just drew
-- it, so it is the session's currval; an explicit id is not (or currval is undefined).
CREATE FUNCTION registry_audit_log_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.recorded_at := now();
    IF NEW.id IS DISTINCT FROM currval(pg_get_serial_sequence('registry_audit_log', 'id')) THEN
        RAISE EXCEPTION 'registry_audit_log ids come from its sequence';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER registry_audit_log_stamp
    BEFORE INSERT ON registry_audit_log
    FOR EACH ROW EXECUTE FUNCTION registry_audit_log_stamp();

-- Each statement's rows must continue their environment's chain: one set-based pass
-- over the statement's rows, as the write computes them (a row-level check, one
-- lookup per row, made a 10,000-row apply 75% slower).
CREATE FUNCTION registry_audit_log_chained() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    SELECT min(id) INTO bad FROM (
        SELECT n.id, n.environment, n.chain_hash,
               registry_audit_content(
                   n.recorded_at, n.environment, n.revision, n.plan_id, n.action,
                   n.model_name, n.actor, n.commit_sha, n.pipeline_url, n.before, n.after
               ) AS content,
               lag(n.chain_hash) OVER (PARTITION BY n.environment ORDER BY n.id) AS previous
        FROM inserted AS n
    ) AS s
    WHERE s.chain_hash IS DISTINCT FROM registry_audit_chain_step(
        NULL,
        COALESCE(s.previous, (SELECT p.chain_hash FROM registry_audit_log AS p
                              WHERE p.environment = s.environment AND p.id < s.id
                              ORDER BY p.id DESC LIMIT 1)),
        s.content);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'registry_audit_log row % does not continue its hash chain', bad;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER registry_audit_log_chained
    AFTER INSERT ON registry_audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_log_chained();
