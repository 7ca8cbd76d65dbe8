/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background worker's settings and entry points, shared by
 *	  worker.c (settings, registration), worker_launcher.c, worker_db.c,
 *	  worker_ddl.c and worker_status.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_WORKER_H
#define RILLFLOW_WORKER_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodes.h"
#include "postmaster/bgworker.h"

/* bgw_type of each process: the backend_type seen in pg_stat_activity. */
#define RF_LAUNCHER_TYPE	"rillflow launcher"
#define RF_WORKER_TYPE		"rillflow worker"

/* Seconds before the postmaster restarts a launcher or worker that died. */
#define RF_RESTART_SECONDS	2

/* Settings (worker.c) */
extern bool rf_worker_enabled;
extern int	rf_naptime_ms;
extern int	rf_tick_coalesce_us;
extern int	rf_max_workers;
extern int	rf_batch_statement_timeout_ms;
extern int	rf_worker_time_slice_ms;
extern char *rf_worker_role;
extern int	rf_snapshot_threshold;
extern int	rf_snapshot_batch;

/* A BackgroundWorker filled in as every rillflow process is (worker.c). */
extern void rf_worker_prepare(BackgroundWorker *worker, const char *function_name,
							  const char *type);

/* Entry points named in BackgroundWorker.bgw_function_name */
extern PGDLLEXPORT void rf_launcher_main(Datum main_arg);
extern PGDLLEXPORT void rf_db_worker_main(Datum main_arg);

/* Called from _PG_init: the settings, wherever the library is loaded. */
extern void rf_worker_init(void);

/* Called from _PG_init while preloading: register the launcher. */
extern void rf_worker_register_launcher(void);

/*
 * Keeps workers out of a database that DDL needs to itself (worker_ddl.c),
 * for the utility hook: the database a statement needs to itself, or
 * InvalidOid; and pausing that database with its worker gone (false when
 * nothing could be paused). The hook lifts the pause with
 * rf_unpause_database once the statement has run.
 */
extern Oid	rf_database_needed_alone(Node *parsetree);
extern bool rf_evict_workers(Oid dboid);

#endif							/* RILLFLOW_WORKER_H */
