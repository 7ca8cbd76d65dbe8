-- rillflow.trace_mermaid(correlation_id): the causation chain of a
-- correlation as a Mermaid sequence diagram (docs/observability.md).

-- A participant's label Mermaid shows as written: letters, digits and _ : . -
-- kept, anything else (quotes, ;, #, <, newlines) made _.
CREATE OR REPLACE FUNCTION rillflow._mermaid_label(text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN regexp_replace(left(text, 80), '[^A-Za-z0-9_:.\- ]', '_', 'g');

-- The events of the current store that carry correlation_id, in log order
-- (events not placed yet last), each with the stream it went to and the event
-- that caused it: a message from the causing event's stream to the event's
-- own (from "client" when nothing in the chain caused it), and a dashed
-- message to each projection of the store that has applied it. At most
-- max_events events (22023 when not positive).
CREATE OR REPLACE FUNCTION rillflow.trace_mermaid(correlation_id uuid, max_events integer DEFAULT 1000)
    RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    out text := E'sequenceDiagram\n    participant client as client\n';
    e record;
    p record;
    streams jsonb := '{}';      -- stream id -> participant id
    projections jsonb := '{}';  -- projection name -> participant id
    events jsonb := '{}';       -- event id -> stream id
    src text;
    dst text;
    label text;
    n integer := 0;
BEGIN
    IF correlation_id IS NULL THEN
        RAISE EXCEPTION 'correlation_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF max_events IS NULL OR max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1, not %', coalesce(max_events::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    FOR e IN EXECUTE format($q$
        SELECT e.event_id, e.stream_id, e.version, e.type, e.causation_id, p.position,
               (SELECT a.alias FROM %1$I.stream_aliases a WHERE a.stream_id = e.stream_id
                 ORDER BY a.alias LIMIT 1) AS alias
          FROM %1$I.events e
          LEFT JOIN LATERAL (
               SELECT g.last_position - cardinality(g.seqs) + rillflow._segment_index(g.seqs, e.seq) AS position
                 FROM %1$I.log_segments g
                WHERE g.max_seq >= e.seq AND rillflow._segment_index(g.seqs, e.seq) IS NOT NULL
                ORDER BY g.max_seq LIMIT 1) p ON true
         WHERE e.correlation_id = $1
         ORDER BY p.position NULLS LAST, e.seq
         LIMIT $2$q$, store) USING correlation_id, max_events LOOP
        n := n + 1;
        IF NOT streams ? e.stream_id::text THEN
            streams := streams || jsonb_build_object(e.stream_id::text, 's' || (SELECT count(*) + 1 FROM jsonb_object_keys(streams)));
            out := out || format(E'    participant %s as %s\n', streams->>e.stream_id::text,
                                 rillflow._mermaid_label(coalesce(e.alias, 'stream ' || left(e.stream_id::text, 8))));
        END IF;
        dst := streams->>e.stream_id::text;
        src := CASE WHEN e.causation_id IS NOT NULL AND events ? e.causation_id::text
                    THEN streams->>(events->>e.causation_id::text) ELSE 'client' END;
        events := events || jsonb_build_object(e.event_id::text, e.stream_id::text);
        label := rillflow._mermaid_label(e.type) || ' v' || e.version
                 || coalesce(' @' || e.position, ' (not in the log yet)');
        out := out || format(E'    %s->>%s: %s\n', src, dst, label);
        IF e.position IS NOT NULL THEN
            FOR p IN EXECUTE format($q$
                SELECT p.name FROM %I.projections p
                 WHERE p.checkpoint >= $1 AND (p.event_types IS NULL OR $2 = ANY (p.event_types))
                 ORDER BY p.name$q$, store) USING e.position, e.type LOOP
                IF NOT projections ? p.name THEN
                    projections := projections || jsonb_build_object(p.name, 'p' || (SELECT count(*) + 1 FROM jsonb_object_keys(projections)));
                    out := out || format(E'    participant %s as projection %s\n', projections->>p.name,
                                         rillflow._mermaid_label(p.name));
                END IF;
                out := out || format(E'    %s-->>%s: applied %s\n', dst, projections->>p.name,
                                     rillflow._mermaid_label(e.type));
            END LOOP;
        END IF;
    END LOOP;
    IF n = 0 THEN
        out := out || format(E'    Note over client: no event has correlation id %s\n', correlation_id);
    END IF;
    RETURN out;
END
$fn$;
COMMENT ON FUNCTION rillflow.trace_mermaid(uuid, integer)
    IS 'The causation chain of a correlation id, and the projections that applied it, as a Mermaid sequence diagram';
