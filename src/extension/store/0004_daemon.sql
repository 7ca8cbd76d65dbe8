-- Store step 4: the C++ daemons' hot/cold clusters
-- Released with 0.1.0: never edit it; change a store in a new step (README.md).

CREATE TABLE @store@.daemon_clusters (
    cluster             text PRIMARY KEY,
    hot_node            text,
    lease_expires_at    timestamptz,
    fencing_token       bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((hot_node IS NULL) = (lease_expires_at IS NULL))
);

CREATE TABLE @store@.daemon_nodes (
    cluster             text NOT NULL REFERENCES @store@.daemon_clusters ON DELETE CASCADE,
    node_id             text NOT NULL,
    hostname            text,
    pid                 integer,
    role                text NOT NULL CHECK (role IN ('hot', 'cold')),
    heartbeat_at        timestamptz NOT NULL,
    lease_ttl           interval NOT NULL,
    lease_grace         interval NOT NULL,
    -- set by cluster_demote: the node does not take the lease before then
    standby_until       timestamptz,
    started_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster, node_id)
);
