-- Liveness: what was last concluded about whether an enabled entry is routable now.
-- status_reason: why the entry is pending (from a plan or from the controller); NULL otherwise.
-- probe: the controller's last GET /v1/models verdict: NULL never probed, 'ok', else why not.
-- Neither is desired state: the controller writes them without a revision bump, and
-- applying a plan gates an enabled entry's status on the latest recorded health and probe.
ALTER TABLE model_registry_entries
    ADD COLUMN status_reason text,
    ADD COLUMN probe text;
