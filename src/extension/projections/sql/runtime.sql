-- Projections: running them in the database. The batch loop is C
-- (projection_runtime.c); wait_for_projection is C too (wait.c).

-- Tell waiters (wait_for_projection) that a checkpoint moved; C, so the
-- worker's shared-memory wake-up can be wired in one place.
CREATE OR REPLACE FUNCTION rillflow._note_checkpoint_advance() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_note_checkpoint_advance'
    LANGUAGE C VOLATILE;

-- Wake the database's worker at commit (a new projection starts at once).
CREATE OR REPLACE FUNCTION rillflow._wake_worker() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_wake_worker'
    LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION rillflow.run_projection(name text, max_batches integer DEFAULT 1) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projection'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projection(text, integer)
    IS 'Apply up to max_batches batches of a projection now; returns the events applied';

CREATE OR REPLACE FUNCTION rillflow.run_projections_until_idle(name text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projections_until_idle'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projections_until_idle(text)
    IS 'Run one projection (or every running one of the store) until it has nothing left to do';

CREATE OR REPLACE FUNCTION rillflow.wait_for_projection(
    name text,
    "position" bigint,
    timeout interval DEFAULT '5 seconds')
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_wait_for_projection'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.wait_for_projection(text, bigint, interval) IS
    'Wait until the projection''s checkpoint reaches position; false on timeout';
