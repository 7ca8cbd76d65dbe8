/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: its settings and the registration of the
 *	  launcher (worker_launcher.c), which starts one worker per database
 *	  that has the extension (worker_db.c).
 *	  See docs/worker.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "worker/worker.h"

bool		rf_worker_enabled = true;
int			rf_naptime_ms = 1000;
int			rf_tick_coalesce_us = 5000;
int			rf_max_workers = 8;
int			rf_batch_statement_timeout_ms = 30000;
int			rf_worker_time_slice_ms = 10000;
char	   *rf_worker_role = NULL;
int			rf_snapshot_threshold = 0;
int			rf_snapshot_batch = 200;

/* The worker's settings; they exist wherever the library is loaded. */
void
rf_worker_init(void)
{
	DefineCustomBoolVariable("rillflow.worker_enabled",
							 "Run rillflow's background worker in every database with the extension.",
							 "When off, the database workers leave and none is started.",
							 &rf_worker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.naptime",
							"Longest sleep of a rillflow worker between passes with nothing to do.",
							"Appends wake the worker at once; this bounds the wait otherwise, "
							"and is also how often the launcher looks for new databases.",
							&rf_naptime_ms,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.tick_coalesce",
							"Pause of a rillflow worker, in microseconds, between ticks while appends keep arriving (two passes in a row gave positions).",
							"Appends that commit meanwhile are stamped by one tick instead of one each: "
							"under a stream of appends a tick per commit cost the worker as much CPU as "
							"a third of the appenders. A reader waiting for the log ends the pause at once. "
							"0 ticks again at once.",
							&rf_tick_coalesce_us,
							5000,
							0,
							1000000,
							PGC_SIGHUP,
							0,	/* microseconds, as commit_delay */
							NULL, NULL, NULL);

	/*
	 * A PGC_POSTMASTER setting can only be defined while the postmaster
	 * loads the library: defined later (CREATE EXTENSION on a server that
	 * did not preload it) it is a FATAL error. It sizes the workers' shared
	 * memory, which exists only when preloaded, so without preload it does
	 * not exist at all (docs/managed-postgresql.md).
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("rillflow.max_workers",
								"Most databases a rillflow worker runs in at once.",
								"Each takes one of max_worker_processes, besides the launcher.",
								&rf_max_workers,
								8,
								1,
								1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.worker_time_slice",
							"How long a rillflow worker keeps its slot while other databases wait for one.",
							"When more databases have the extension than workers can run, the launcher "
							"asks the workers that ran this long to leave after their pass, and gives "
							"the slots to the databases that waited longest.",
							&rf_worker_time_slice_ms,
							10000,
							100,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.batch_statement_timeout",
							"Time budget of the handler calls of each projection batch.",
							"When it runs out, the events before the call are kept and the call's event is run again alone; "
							"an event that runs out of it alone is counted as a failure. 0 disables.",
							&rf_batch_statement_timeout_ms,
							30000,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("rillflow.worker_role",
							   "Role the rillflow workers connect as.",
							   "Empty means the bootstrap superuser. The role needs LOGIN.",
							   &rf_worker_role,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.snapshot_threshold",
							"Events since an aggregate's last snapshot at which the worker snapshots its stream.",
							"The worker runs rillflow.run_snapshotter(threshold, rillflow.snapshot_batch) in every store "
							"at most once per naptime. 0 disables.",
							&rf_snapshot_threshold,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("rillflow.snapshot_batch",
							"Most streams the worker snapshots per store and run of the snapshotter.",
							NULL,
							&rf_snapshot_batch,
							200,
							1,
							100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

}

/*
 * Register the launcher, which starts one worker per database that has the
 * extension; only while preloading (see _PG_init).
 */
void
rf_worker_register_launcher(void)
{
	BackgroundWorker worker;

	rf_worker_prepare(&worker, "rf_launcher_main", RF_LAUNCHER_TYPE);
	snprintf(worker.bgw_name, BGW_MAXLEN, RF_LAUNCHER_TYPE);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * What every rillflow process has in common: shared memory and a database
 * connection, a start once recovery is over, a restart RF_RESTART_SECONDS
 * after it dies, and its entry point (function_name) in this library. The
 * caller names the process and fills in its arguments.
 */
void
rf_worker_prepare(BackgroundWorker *worker, const char *function_name, const char *type)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = RF_RESTART_SECONDS;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "rillflow");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function_name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
}
