-- The sequencer: positions are dense, in commit order, given once; appends in
-- prepared transactions; data restored from another cluster.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_seq');
SET rillflow.tenant = 'regress_seq';
\set s '''5e000000-0000-0000-0000-000000000001'''

SELECT rillflow.run_sequencer() AS nothing_to_do;
SELECT rillflow.append_event(:s, 'A', '{}');
-- an append is not in the log until a tick has run after its commit
SELECT count(*) AS unsequenced FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_regress_seq.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions;
SELECT rillflow.run_sequencer() AS sequenced;
SELECT rillflow.run_sequencer() AS again_nothing;
SELECT position, version, type FROM rillflow.read_stream(:s);

-- a rolled-back append leaves no hole
BEGIN;
SELECT rillflow.append_event(:s, 'RolledBack', '{}');
ROLLBACK;
SELECT rillflow.append_event(:s, 'B', '{}');
SELECT position, version, type FROM rillflow.read_all();

-- inside a transaction block (at READ COMMITTED) readers wait, as outside,
-- for every event committed before them, but not for the block's own: those
-- get positions after it commits
BEGIN;
SELECT rillflow.append_event(:s, 'C', '{}');
SELECT position, type FROM rillflow.read_all(1);
COMMIT;
BEGIN;
SELECT position, type FROM rillflow.read_all(1);
COMMIT;
SELECT position, type FROM rillflow.read_all(1);

-- the sequencer needs READ COMMITTED
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT rillflow.run_sequencer(); \echo SQLSTATE :SQLSTATE
ROLLBACK;
-- a REPEATABLE READ reader does not sequence either, and still reads
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rillflow.read_all();
COMMIT;

-- an append in a prepared transaction: invisible until COMMIT PREPARED, and
-- it holds back no one else's events meanwhile
BEGIN;
SELECT rillflow.append_event('5e000000-0000-0000-0000-000000000002', 'Prepared', '{}');
PREPARE TRANSACTION 'rillflow_regress_prepared';
SELECT rillflow.append_event(:s, 'AfterPrepare', '{}');
SELECT position, type FROM rillflow.read_all(3);
COMMIT PREPARED 'rillflow_regress_prepared';
SELECT position, type FROM rillflow.read_all(3);
-- and a prepared append that is rolled back leaves no hole
BEGIN;
SELECT rillflow.append_event('5e000000-0000-0000-0000-000000000002', 'PreparedThenRolledBack', '{}');
PREPARE TRANSACTION 'rillflow_regress_prepared2';
ROLLBACK PREPARED 'rillflow_regress_prepared2';
SELECT rillflow.append_event(:s, 'D', '{}');
SELECT position, type FROM rillflow.read_all(5);
SELECT rillflow.stream_version('5e000000-0000-0000-0000-000000000002') AS prepared_stream_version;

-- data restored from another cluster: the recorded transaction ids mean
-- nothing, so the first tick stamps what is unsequenced in provisional order
-- and freezes the rest. (A real cross-cluster restore runs in tests/shell.)
SELECT rillflow.append_event(:s, 'E', '{}');
SELECT rillflow.append_event(:s, 'F', '{}');
UPDATE rillflow_tenant_regress_seq.log_state SET system_identifier = 42;
SELECT rillflow.run_sequencer() AS stamped_after_restore;
SELECT system_identifier = rillflow._system_identifier() AS identity_recorded FROM rillflow_tenant_regress_seq.log_state;
SELECT count(*) AS unfrozen FROM rillflow_tenant_regress_seq.events WHERE tx <> '1'::xid8;
SELECT position, version, type FROM rillflow.read_all(6);
SELECT rillflow.append_event(:s, 'G', '{}');
SELECT position, version, type FROM rillflow.read_all(8);

-- positions are dense and each event has exactly one
SELECT count(*) AS events, max(position) AS head, count(DISTINCT seq) AS distinct_events
  FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_regress_seq.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions;
SELECT rillflow.head_position();
RESET rillflow.tenant;

-- a read-only reader (default_transaction_read_only) writes nothing either
-- way: it reads its writes like any other (a ticker writes the positions)
SET rillflow.tenant = 'regress_seq';
SELECT rillflow.append_event(:s, 'ReadOnly', '{}');
SET default_transaction_read_only = on;
SELECT position, type FROM rillflow.read_all(9);
SELECT rillflow.head_position();
RESET default_transaction_read_only;
SELECT position, type FROM rillflow.read_all(9);

-- run_sequencer holds nothing in the caller's transaction (the positions are
-- a ticker's, committed), so that transaction can be prepared, and the log
-- moves on while it stays prepared
BEGIN;
SELECT rillflow.run_sequencer();
PREPARE TRANSACTION 'rillflow_regress_ticked'; \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, 'H', '{}');
SELECT position, type FROM rillflow.read_all(10);
COMMIT PREPARED 'rillflow_regress_ticked';
RESET rillflow.tenant;

-- The log in segments (store step 12): one append of 150 events is three
-- rows of at most 64 positions, their seqs rising and max_seq the last; the
-- segments tile the log with no gap; a page that starts and ends inside
-- segments reads the right events, and read_stream finds each event's
-- position from its seq
SET rillflow.tenant = 'regress_seq';
SELECT max(last_position) AS head_before FROM rillflow_tenant_regress_seq.log_segments \gset
SELECT rillflow.append_events('5e000000-0000-0000-0000-000000000003',
         (SELECT jsonb_agg(jsonb_build_object('type', 'Bulk', 'body', jsonb_build_object('i', i)))
            FROM generate_series(1, 150) i));
SELECT rillflow.run_sequencer() AS stamped;
SELECT last_position - :head_before AS last, cardinality(seqs) AS n,
       max_seq = seqs[cardinality(seqs)] AS max_is_last,
       seqs = (SELECT array_agg(s ORDER BY s) FROM unnest(seqs) s) AS rising
  FROM rillflow_tenant_regress_seq.log_segments WHERE last_position > :head_before ORDER BY last_position;
SELECT count(*) AS gaps
  FROM (SELECT last_position - cardinality(seqs) AS before,
               coalesce(lag(last_position) OVER (ORDER BY last_position), 0) AS prev
          FROM rillflow_tenant_regress_seq.log_segments) x
 WHERE before <> prev;
SELECT min(position) - :head_before AS first, max(position) - :head_before AS last,
       bool_and(version = position - :head_before) AS versions_match
  FROM rillflow.read_all(:head_before + 60, 10);
SELECT count(*) AS events, count(*) FILTER (WHERE s.position = a.position) AS same_position
  FROM rillflow.read_stream('5e000000-0000-0000-0000-000000000003') s
  JOIN rillflow.read_all(:head_before, 1000) a USING (version);
-- a segment of another shape than a tick writes is refused by the table
-- (23514, its CHECK constraint): two dimensions, falling seqs, max_seq not
-- the last of them; nothing changes
UPDATE rillflow_tenant_regress_seq.log_segments SET seqs = ARRAY[seqs]
 WHERE last_position = :head_before + 64; \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_seq.log_segments
   SET seqs = ARRAY(SELECT u FROM unnest(seqs) WITH ORDINALITY x(u, o) ORDER BY o DESC)
 WHERE last_position = :head_before + 64; \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_seq.log_segments SET max_seq = seqs[1]
 WHERE last_position = :head_before + 64; \echo SQLSTATE :SQLSTATE
-- with the constraint dropped by hand, a read refuses a segment it cannot
-- unnest, naming the store and the segment (XX001)
BEGIN;
ALTER TABLE rillflow_tenant_regress_seq.log_segments DROP CONSTRAINT log_segments_shape;
UPDATE rillflow_tenant_regress_seq.log_segments SET seqs = ARRAY[seqs]
 WHERE last_position = :head_before + 64;
SELECT count(*) FROM rillflow.read_all(:head_before, 10); \echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT count(*) AS still_read FROM rillflow.read_all(:head_before, 10);
-- the shape itself
SELECT rillflow._segment_shaped(9, '{3,5,9}') AS rising, rillflow._segment_shaped(5, '{3,5,9}') AS max_not_last,
       rillflow._segment_shaped(3, '{9,5,3}') AS falling, rillflow._segment_shaped(5, '{5,5}') AS repeated,
       rillflow._segment_shaped(1, '{}') AS empty, rillflow._segment_shaped(2, '{1,NULL,2}') AS with_null,
       rillflow._segment_shaped(2, '{{1,2}}') AS two_dims,
       rillflow._segment_shaped(64, (SELECT array_agg(i) FROM generate_series(1, 64) i)) AS sixty_four,
       rillflow._segment_shaped(65, (SELECT array_agg(i) FROM generate_series(1, 65) i)) AS sixty_five;
-- where a seq is in a segment: a binary search of rising seqs
SELECT rillflow._segment_index('{3,5,9}', 5) AS found, rillflow._segment_index('{3,5,9}', 9) AS last,
       rillflow._segment_index('{3,5,9}', 4) AS absent, rillflow._segment_index('{}', 1) AS empty,
       rillflow._segment_index('{1,NULL}', 1) AS with_null, rillflow._segment_index('{{1,2}}', 1) AS two_dims;
RESET rillflow.tenant;
