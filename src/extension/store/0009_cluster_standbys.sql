-- Store step 10: a daemon cluster's min_cold_standbys, kept with the cluster so every node
-- and every reader of its health (the daemon's `hotcold` section) judges it by one number.
-- NULL: not set (each daemon goes by its own --min-cold-standbys).

ALTER TABLE @store@.daemon_clusters
    ADD COLUMN min_cold_standbys integer CHECK (min_cold_standbys >= 0);
