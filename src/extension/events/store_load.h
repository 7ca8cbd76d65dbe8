/*-------------------------------------------------------------------------
 *
 * store_load.h
 *	  Keeps a store's sequencer and projections still while a session loads
 *	  the store's tables (store_load.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_STORE_LOAD_H
#define RILLFLOW_STORE_LOAD_H

#include "postgres.h"

#include "nodes/nodes.h"

/*
 * What a load holds still (RfLoad.hold, core/shmem.h):
 * - RF_HOLD_XACT: the store's ticks and projections, until the loading
 *   transaction ends;
 * - RF_HOLD_RESTORE: set with RF_HOLD_XACT by a load of the log's own tables
 *   (a restore); at commit it becomes RF_HOLD_LOG | RF_HOLD_PROJECTIONS, at
 *   abort it goes;
 * - RF_HOLD_LOG: the store's ticks, until a tick finds the store's log whole
 *   again (rf_release_log_hold) or the session ends;
 * - RF_HOLD_PROJECTIONS: the store's projections, until the session ends.
 */
#define RF_HOLD_XACT			0x01
#define RF_HOLD_RESTORE			0x02
#define RF_HOLD_LOG				0x04
#define RF_HOLD_PROJECTIONS		0x08

/*
 * Called by the utility hook for every statement: a COPY FROM into a store's
 * own tables, by the store's owner or a superuser, marks the store.
 */
extern void rf_note_store_load(Node *parsetree);

/*
 * What the loads of every backend hold of a store (InvalidOid store: of any
 * store of the database), as RF_HOLD_* flags; *pid gets one loading
 * backend's pid when not NULL. No lock and no loop when nothing is loaded.
 */
extern uint32 rf_store_load_hold(Oid dboid, Oid store, pid_t *pid);

/* A tick found the store's log whole: release the RF_HOLD_LOG of its loads. */
extern void rf_release_log_hold(Oid dboid, Oid store);

#endif							/* RILLFLOW_STORE_LOAD_H */
