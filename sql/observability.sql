-- rillflow.metrics() and rillflow.trace_mermaid() (docs/observability.md).
SET client_min_messages = warning;
SELECT rillflow.ensure_tenant('regress_obs');
CREATE ROLE regress_obs_watcher;
RESET client_min_messages;
SET rillflow.tenant = 'regress_obs';

-- A correlation: an order placed by a client, payment and shipping caused by it
-- in other streams, and one event of another correlation.
SELECT rillflow.resolve_stream_alias('order:1') AS order_stream \gset
SELECT rillflow.resolve_stream_alias('payment:1') AS payment_stream \gset
SELECT rillflow.append_event(:'order_stream', 'OrderPlaced', '{}', 0, event_id => 'a0000000-0000-0000-0000-000000000001',
                             correlation_id => 'c0000000-0000-0000-0000-00000000000c');
SELECT rillflow.append_event(:'payment_stream', 'PaymentTaken', '{}', 0, event_id => 'a0000000-0000-0000-0000-000000000002',
                             causation_id => 'a0000000-0000-0000-0000-000000000001',
                             correlation_id => 'c0000000-0000-0000-0000-00000000000c');
SELECT rillflow.append_event(:'order_stream', 'OrderShipped', '{}', 1, event_id => 'a0000000-0000-0000-0000-000000000003',
                             causation_id => 'a0000000-0000-0000-0000-000000000002',
                             correlation_id => 'c0000000-0000-0000-0000-00000000000c');
SELECT rillflow.append_event(rillflow.resolve_stream_alias('other'), 'Unrelated', '{}',
                             correlation_id => 'c0000000-0000-0000-0000-0000000000ff');
-- a projection of orders only, run to the head
CREATE TABLE regress_obs_seen (position bigint);
CREATE FUNCTION regress_obs_apply(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO regress_obs_seen VALUES (e.position) $$;
SELECT rillflow.create_projection('order_view', 'regress_obs_apply(rillflow.event_envelope)',
                                  event_types => ARRAY['OrderPlaced', 'OrderShipped']);
SELECT rillflow.run_projections_until_idle('order_view') AS applied;

SELECT rillflow.trace_mermaid('c0000000-0000-0000-0000-00000000000c');
-- the other correlation, and one with no event
SELECT rillflow.trace_mermaid('c0000000-0000-0000-0000-0000000000ff');
SELECT rillflow.trace_mermaid('c0000000-0000-0000-0000-000000000000');
-- at most max_events; labels keep Mermaid's syntax intact
SELECT rillflow.trace_mermaid('c0000000-0000-0000-0000-00000000000c', 1);
SELECT rillflow._mermaid_label('evil"; participant x as <b>hi</b>' || chr(10) || 'next');
SELECT rillflow.trace_mermaid(NULL);                                     -- 22004
SELECT rillflow.trace_mermaid('c0000000-0000-0000-0000-00000000000c', 0); -- 22023

-- a subscription of orders with a consumer group, one event in flight
SELECT rillflow.create_subscription('order_sub', event_types => ARRAY['OrderPlaced', 'OrderShipped']);
SELECT count(*) AS delivered FROM rillflow.subscription_poll('order_sub', 1, 'g1', 'c1');

-- metrics: the log, the projection and the subscription's group of this store
SELECT name, labels - 'store' AS labels, value
  FROM rillflow.metrics()
 WHERE labels->>'tenant' = 'regress_obs'
 ORDER BY name, labels::text;
-- every row has a name of rillflow's, a help text and a value
SELECT count(*) > 0 AS some, bool_and(name LIKE 'rillflow\_%' AND help <> '' AND value IS NOT NULL) AS well_formed
  FROM rillflow.metrics();
-- a role without access to the store sees none of its metrics; with read, it does
RESET rillflow.tenant;
SET ROLE regress_obs_watcher;
SELECT count(*) AS visible FROM rillflow.metrics() WHERE labels->>'tenant' = 'regress_obs';
RESET ROLE;
SELECT rillflow.grant_tenant('regress_obs', 'regress_obs_watcher', 'read');
SET ROLE regress_obs_watcher;
SELECT count(*) > 0 AS visible FROM rillflow.metrics() WHERE labels->>'tenant' = 'regress_obs';
RESET ROLE;

-- teardown
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_obs');
DROP TABLE regress_obs_seen;
DROP FUNCTION regress_obs_apply(rillflow.event_envelope);
DROP OWNED BY regress_obs_watcher;
DROP ROLE regress_obs_watcher;
