/*-------------------------------------------------------------------------
 *
 * ticker.c
 *	  A ticker: a background process that a reader starts (log_sync.c) when
 *	  no worker ticks for it. It connects to the reader's database, runs one
 *	  tick of one store in a transaction of its own, commits, and exits; the
 *	  postmaster then sets the reader's latch (bgw_notify_pid). So a reader
 *	  on a server without the worker, or whose worker is busy in a projection
 *	  batch, still gets a committed tick, and never ticks in its own
 *	  transaction.
 *
 *	  A ticker is a dynamic background worker: it needs a free slot of
 *	  max_worker_processes, not shared_preload_libraries. It connects as the
 *	  bootstrap superuser, the one role sure to be able to log in, and does
 *	  nothing but the tick, which runs as the store's owner in a
 *	  security-restricted context (sequencer.c). When another process ticks
 *	  the store, it waits for that tick to end, up to what is left of the
 *	  reader's wait, then ticks itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "core/store.h"
#include "events/log_sync.h"
#include "events/sequencer.h"
#include "worker/worker.h"

/* What a reader hands its ticker in bgw_extra. */
typedef struct RfTickerArgs
{
	Oid			dboid;
	Oid			store;			/* the store's schema */
	int			wait_ms;		/* how long to wait for another tick to end */
} RfTickerArgs;

StaticAssertDecl(sizeof(RfTickerArgs) <= BGW_EXTRALEN, "RfTickerArgs must fit in bgw_extra");

BackgroundWorkerHandle *
rf_start_ticker(const RfStore *store, int wait_ms, bool notify)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	RfTickerArgs args;

	rf_worker_prepare(&worker, "rf_ticker_main", RF_TICKER_TYPE);
	snprintf(worker.bgw_name, BGW_MAXLEN, RF_TICKER_TYPE);
	/* One tick and gone: a ticker that dies is not started again. */
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	memset(&args, 0, sizeof(args));
	args.dboid = MyDatabaseId;
	args.store = store->schema_oid;
	args.wait_ms = Max(wait_ms, 0);
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = notify ? MyProcPid : 0;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

void
rf_ticker_main(Datum main_arg)
{
	RfTickerArgs args;
	char	   *schema;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, BOOTSTRAP_SUPERUSERID, 0);
	rf_log_no_wait = true;

	rf_sequencer_process_settings();

	pgstat_report_activity(STATE_RUNNING, "rillflow: sequencer tick");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	/*
	 * A table lock the tick needs (a session holding SHARE on positions, say)
	 * keeps it no longer than the reader waits: tickers do not pile up
	 * behind it.
	 */
	if (args.wait_ms > 0)
	{
		char		timeout[32];

		snprintf(timeout, sizeof(timeout), "%d", args.wait_ms);
		(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	}
	schema = get_namespace_name(args.store);
	if (schema != NULL)
	{
		RfStore		store;

		rf_store_by_schema(schema, &store);
		(void) rf_sequence(&store, args.wait_ms, NULL);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
