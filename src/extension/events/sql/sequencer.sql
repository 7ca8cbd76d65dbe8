-- The sequencer: gives committed events their dense positions in the global
-- log, in the order they became visible. Ticks are C (events/sequencer.c),
-- run by the background worker or by a ticker a reader starts
-- (events/ticker.c), never in a client's transaction; readers wait for them
-- (events/log_sync.c). See docs/global-log.md for how it works.

-- This cluster's system identifier: the log state records which cluster wrote
-- it, so a tick can tell data restored from another cluster.
CREATE OR REPLACE FUNCTION rillflow._system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_system_identifier'
    LANGUAGE C STABLE PARALLEL SAFE;

-- Makes the log include every event committed before the call (waiting at
-- most rillflow.log_wait_timeout); returns how many positions the log gained
-- meanwhile. READ COMMITTED only (25000 otherwise).
CREATE OR REPLACE FUNCTION rillflow.run_sequencer() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_sequencer'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_sequencer()
    IS 'Wait until every event committed before the call has a position; returns how many the log gained';

-- The index of an event's seq in a segment of the log (log_segments, whose
-- seqs rise): a binary search, for the readers that find an event's position
-- from its seq (read_stream, aggregates, traces). A function of its arguments
-- alone, so any reader may call it.
CREATE OR REPLACE FUNCTION rillflow._segment_index(seqs bigint[], seq bigint) RETURNS integer
    AS 'MODULE_PATHNAME', 'rillflow_segment_index'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Whether a row of log_segments has the shape a tick writes (one dimension,
-- 1..64 seqs without NULLs, strictly rising, max_seq the last): the table's
-- CHECK constraint (store step 12), so no reader ever meets another shape.
-- A function of its arguments alone.
CREATE OR REPLACE FUNCTION rillflow._segment_shaped(max_seq bigint, seqs bigint[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_segment_shaped'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The highest position a store's log has given, 0 for an empty log, as the
-- log_segments table has it now (no wait): what projections measure lag against.
CREATE OR REPLACE FUNCTION rillflow._log_head(store name) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    head bigint;
BEGIN
    EXECUTE format('SELECT coalesce(max(last_position), 0) FROM %I.log_segments', store) INTO head;
    RETURN head;
END
$fn$;

-- The head once the log includes every event committed before the call (at
-- READ COMMITTED; see docs/global-log.md for where it does not wait).
CREATE OR REPLACE FUNCTION rillflow.head_position() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_head_position'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.head_position() IS 'The highest position in the global log';

-- The same wait as read_all's on the current store, going on with what is in
-- the log when it times out (projection_acquire).
CREATE OR REPLACE FUNCTION rillflow._sync_log() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_sync_log'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
