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
 * First key of the two-key advisory locks rillflow takes ("RFLG"); the second
 * key is the store schema's OID, so each store has its own sequencer lock.
 */
#define RF_SEQUENCER_LOCK_CLASS		0x52464C47

/* Whether a reader may run a tick here (see sequencer.c). */
extern bool rf_may_sequence_here(void);

/* One tick of the store's sequencer (see sequencer.c). */
extern int64 rf_sequence(const RfStore *store, int64 *head);

#endif							/* RILLFLOW_SEQUENCER_H */
