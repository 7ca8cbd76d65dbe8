/*-------------------------------------------------------------------------
 *
 * log_sync.h
 *	  Reads that see their own writes: waiting until the log includes every
 *	  event committed before a call (log_sync.c), and the one-shot ticker a
 *	  reader starts when no worker ticks for it (ticker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_LOG_SYNC_H
#define RILLFLOW_LOG_SYNC_H

#include "postgres.h"

#include "fmgr.h"
#include "postmaster/bgworker.h"

#include "core/store.h"

/* bgw_type of a ticker: the backend_type seen in pg_stat_activity. */
#define RF_TICKER_TYPE		"rillflow ticker"

/* rillflow.log_wait_timeout, in milliseconds: 0 never waits. */
extern int	rf_log_wait_timeout_ms;

/*
 * Set in rillflow's own background processes (the worker, a ticker): they
 * never wait for the log, which they tick themselves.
 */
extern bool rf_log_no_wait;

/* Define the settings; from _PG_init. */
extern void rf_log_sync_init(void);

/*
 * Wait until every event committed before the call has a committed
 * position in the store's log (see log_sync.c). SPI must be connected.
 * Returns false when the call may not wait here; on timeout raises an
 * error, or with quiet returns. *gained (when not NULL) gets how many
 * positions the log gained while waiting.
 */
extern bool rf_log_sync(const RfStore *store, bool quiet, int64 *gained);

/* Start a ticker for the store (ticker.c); NULL when no slot is free. */
extern BackgroundWorkerHandle *rf_start_ticker(const RfStore *store, int wait_ms, bool notify);

extern PGDLLEXPORT void rf_ticker_main(Datum main_arg);

#endif							/* RILLFLOW_LOG_SYNC_H */
