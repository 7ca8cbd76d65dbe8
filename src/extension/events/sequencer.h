/*-------------------------------------------------------------------------
 *
 * sequencer.h
 *	  The sequencer (sequencer.c): gives committed events their dense
 *	  positions in a store's global log.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_SEQUENCER_H
#define RILLFLOW_SEQUENCER_H

#include "postgres.h"

#include "core/store.h"

/*
 * Sub-id of the sequencer's lock: an object lock on (pg_namespace, the
 * store's schema, this), which no SQL statement can take ("RF").
 */
#define RF_SEQUENCER_LOCK_SUBID		0x5246

/* How often a tick that waits for another process's tick tries the lock. */
#define RF_SEQUENCER_POLL_MS		5

/* The channel a tick that advanced a store's log notifies, at its commit. */
#define RF_NOTIFY_CHANNEL	"rillflow_events"

/*
 * One tick of the store's sequencer, in a transaction of its own in a
 * background process (see sequencer.c). Returns how many events got
 * positions.
 */
extern int64 rf_sequence(const RfStore *store, int wait_ms, int64 *head);

/*
 * The settings of a background process that ticks (the database worker, a
 * reader's ticker), set once at its start.
 */
extern void rf_sequencer_process_settings(void);

#endif							/* RILLFLOW_SEQUENCER_H */
