-- Store step (0.2.0): a group's events in flight as one row per batch
-- (subscriptions/poll.c). In an unordered group (and for the single consumer)
-- the events one poll takes past the frontier are one outstanding row: batch
-- holds their positions, sorted, position the lowest of them (so the
-- checkpoint, one below the lowest outstanding position, is unchanged) and
-- stream_id the stream of that one. An ack of the whole batch deletes the
-- row; a batch whose lease runs out is split into one row per event at the
-- next poll. A poll that holds the group's row also leaves batches pending
-- (consumer NULL) that the group's other consumers claim meanwhile. NULL: a
-- row of one event.
ALTER TABLE @store@.subscription_outstanding ADD COLUMN batch bigint[];
ALTER TABLE @store@.subscription_outstanding
    ADD CONSTRAINT subscription_outstanding_batch_check
    CHECK (batch IS NULL OR (cardinality(batch) >= 1 AND batch[1] = position));
