/*-------------------------------------------------------------------------
 *
 * worker_db.c
 *	  A database worker: started by the launcher for one database, it runs
 *	  passes until there is nothing to do, then sleeps on its latch (set at
 *	  the commit of every append in the database, see core/shmem.c) for at most
 *	  rillflow.naptime.
 *
 *	  A pass, for each store (the default store and every tenant's):
 *	  - one sequencer tick in a short READ COMMITTED transaction; when it
 *		gave positions, NOTIFY rillflow_events with {"store": ..., "head": N}
 *		in the same transaction;
 *	  - one batch of each running worker-kind projection, each in its own
 *		transaction under rillflow.batch_statement_timeout, with
 *		rillflow.tenant set to the store's tenant.
 *	  Every transaction is caught on its own: an error is logged, counted,
 *	  and (for a projection) recorded against the projection's next event, and
 *	  the pass goes on, so a failing or looping handler never stops the
 *	  worker.
 *
 *	  The worker leaves (exit 0, not restarted) when the extension is not in
 *	  its database, when rillflow.worker_enabled is off, and when the launcher
 *	  or a DDL command no longer wants it there (shmem.h: generation, pause).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/compat.h"
#include "events/log_sync.h"
#include "events/sequencer.h"
#include "events/store_load.h"
#include "projections/projection.h"
#include "worker/worker.h"

typedef struct RfStoreRef
{
	char		schema[NAMEDATALEN];
	char		tenant[NAMEDATALEN];	/* "" for the default store */
} RfStoreRef;

static RfWorkerArgs rf_args;
static MemoryContext rf_pass_context = NULL;

/* Counters of the current pass, added to the slot at its end. */
static int64 rf_pass_sequenced;
static int64 rf_pass_projected;
static int64 rf_pass_errors;

/* Whether the last pass gave positions: appends keep arriving if this one does too. */
static bool rf_last_pass_stamped = false;

static void
rf_slot_detach(int code, Datum arg)
{
	RfDbSlot   *slot = &rf_shared->slots[rf_args.slot];

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->coalescing = false;
	}
	LWLockRelease(rf_shared->lock);
}

/* Whether the slot still belongs to this worker, caller holding the lock. */
static bool
rf_slot_is_ours(void)
{
	RfDbSlot   *slot = &rf_shared->slots[rf_args.slot];

	if (rf_shared->epoch != rf_args.epoch || slot->generation != rf_args.generation ||
		slot->dboid != rf_args.dboid)
		return false;
	for (int i = 0; i < RF_MAX_PAUSED; i++)
		if (rf_shared->paused_refs[i] > 0 && rf_shared->paused[i] == rf_args.dboid)
			return false;
	return true;
}

/*
 * Take the slot the launcher gave this worker, unless it is stale (an older
 * launcher's or shared memory's) or its database is paused. Done under the
 * lock that the DDL hook takes to pause a database, so either the hook sees
 * this worker's pid and stops it, or this worker sees the pause and leaves.
 */
static bool
rf_slot_attach(void)
{
	RfDbSlot   *slot = &rf_shared->slots[rf_args.slot];
	bool		ok;

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	ok = rf_args.slot >= 0 && rf_args.slot < rf_shared->nslots && rf_slot_is_ours() &&
		(slot->pid == 0 || slot->pid == MyProcPid);
	if (ok)
	{
		slot->pid = MyProcPid;
		slot->procno = MyProc->pgprocno;
		slot->state = RF_SLOT_RUNNING;
		slot->started_at = GetCurrentTimestamp();
		slot->coalescing = false;
	}
	LWLockRelease(rf_shared->lock);
	return ok;
}

/*
 * Show readers that this worker is inside a projection batch: one that needs
 * a tick then starts a ticker rather than wait for this pass
 * (events/log_sync.c). A hint, written without the lock.
 */
static void
rf_set_projecting(bool projecting)
{
	rf_shared->slots[rf_args.slot].projecting = projecting;
}

static bool
rf_slot_still_ours(void)
{
	bool		ok;

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	ok = rf_slot_is_ours();
	LWLockRelease(rf_shared->lock);
	return ok;
}

/* Leave for good: exit code 0 unregisters a dynamic background worker. */
static void
rf_leave(RfSlotState state, const char *why)
{
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	if (rf_slot_is_ours())
		rf_shared->slots[rf_args.slot].state = state;
	LWLockRelease(rf_shared->lock);
	ereport(DEBUG1, (errmsg("rillflow worker leaves database %u: %s", rf_args.dboid, why)));
	proc_exit(0);
}

/* Whether this worker has told the launcher its database has the extension. */
static bool rf_noted_known = false;

/* Whether the launcher asked this worker to give its slot to another database. */
static bool
rf_yield_requested(void)
{
	bool		yield;

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	yield = rf_slot_is_ours() && rf_shared->slots[rf_args.slot].yield_requested;
	LWLockRelease(rf_shared->lock);
	return yield;
}

static void
rf_set_coalescing(bool coalescing)
{
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	rf_shared->slots[rf_args.slot].coalescing = coalescing;
	/* The pass after the pause ticks for whoever asked, then or before. */
	if (!coalescing)
		rf_shared->slots[rf_args.slot].tick_wanted = false;
	LWLockRelease(rf_shared->lock);
}

/*
 * Let the appends of the next moment commit, so that one tick stamps them
 * all (rillflow.tick_coalesce, in microseconds). Appends that commit
 * meanwhile do not wake us (core/shmem.c): the tick after the pause stamps
 * them. Whoever waits for that tick (a reader of the log, wait_for_projection)
 * sets tick_wanted and our latch, and the pause ends at once, so readers do
 * not pay for it. So do a reload, a shutdown and the launcher's call to
 * yield.
 */
static void
rf_coalesce_pause(int pause_us)
{
	TimestampTz deadline = GetCurrentTimestamp() + pause_us;

	pgstat_report_activity(STATE_RUNNING, "rillflow: letting appends gather before the next tick");
	rf_set_coalescing(true);
	for (;;)
	{
		long		left_us = (long) (deadline - GetCurrentTimestamp());
		bool		wanted;

		if (left_us <= 0)
			break;
		/* WaitLatch counts in milliseconds: the last fraction of one is a sleep. */
		if (left_us < 1000)
			pg_usleep(left_us);
		else
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 left_us / 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(rf_shared->lock, LW_SHARED);
		wanted = rf_shared->slots[rf_args.slot].tick_wanted;
		LWLockRelease(rf_shared->lock);
		if (wanted || ConfigReloadPending || rf_yield_requested())
			break;
	}
	rf_set_coalescing(false);
}

/*
 * Log an error caught in the worker, then abort its transaction. Returns a
 * copy of the error for the caller to record.
 */
static ErrorData *
rf_catch_error(MemoryContext cxt, const char *what)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	/* what may live in ErrorContext, which FlushErrorState resets. */
	what = pstrdup(what);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	MemoryContextSwitchTo(cxt);
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("rillflow worker: %s failed: %s", what, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
	rf_pass_errors++;
	return edata;
}

static void
rf_begin(const char *activity)
{
	pgstat_report_activity(STATE_RUNNING, activity);
	/* now() is the time of this transaction, as for a client's statement. */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
rf_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* Commit leaves TopMemoryContext current: allocate in the pass's. */
	MemoryContextSwitchTo(rf_pass_context);
}

/*
 * Whether the database's extension is at this library's version. Until ALTER
 * EXTENSION rillflow UPDATE runs, the worker ticks the log (whose tables no
 * version has changed) but runs no projection: their tables and functions
 * are the old version's (events/compat.c, docs/upgrades.md).
 */
static bool rf_extension_current = true;
static bool rf_outdated_logged = false;

/* The tenants' stores (the default store is always there). Kept plans: a pass runs per commit. */
static const RfPlanSpec rf_tenants_plan = {
	"SELECT schema_name::pg_catalog.text, name FROM rillflow.tenants ORDER BY name",
	0, {InvalidOid}
};

static const RfPlanSpec rf_run_batch_plan = {
	"SELECT rillflow.run_projection($1, 1)",
	1, {TEXTOID}
};

/*
 * The stores of this database, or leave when the extension is not here. The
 * count of CREATE EXTENSION commits is read before looking, so a creation
 * this check misses is one the launcher sees (worker_launcher.c).
 */
static List *
rf_list_stores(void)
{
	List	   *stores = NIL;
	RfStoreRef *ref;
	uint64		ext_created;

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	ext_created = rf_shared->ext_created;
	LWLockRelease(rf_shared->lock);

	rf_begin("rillflow: listing stores");
	if (!OidIsValid(get_extension_oid("rillflow", true)))
	{
		rf_end();
		LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
		if (rf_slot_is_ours())
			rf_shared->slots[rf_args.slot].ext_counter_seen = ext_created;
		LWLockRelease(rf_shared->lock);
		rf_leave(RF_SLOT_NO_EXTENSION, "no rillflow extension");
	}

	/* Known to have it, for the launcher's turns and worker_status. */
	if (!rf_noted_known)
	{
		rf_note_known_database(MyDatabaseId);
		rf_noted_known = true;
	}

	rf_extension_current = rf_extension_is_current();
	if (!rf_extension_current && !rf_outdated_logged)
		ereport(LOG,
				(errmsg("rillflow: database \"%s\" has the extension at another version than the library's %s; "
						"projections wait for ALTER EXTENSION rillflow UPDATE",
						get_database_name(MyDatabaseId), RILLFLOW_VERSION)));
	rf_outdated_logged = !rf_extension_current;

	rf_execute_plan(rf_keep_plan(InvalidOid, &rf_tenants_plan, ""), NULL, NULL, true, 0);

	MemoryContextSwitchTo(rf_pass_context);
	ref = palloc0(sizeof(RfStoreRef));
	strlcpy(ref->schema, RF_DEFAULT_STORE_SCHEMA, NAMEDATALEN);
	stores = lappend(stores, ref);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		ref = palloc0(sizeof(RfStoreRef));
		strlcpy(ref->schema, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), NAMEDATALEN);
		strlcpy(ref->tenant, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2), NAMEDATALEN);
		stores = lappend(stores, ref);
	}
	rf_end();
	return stores;
}

/*
 * A store's part of a pass that needs no projection: one sequencer tick and
 * the names of its running worker-kind projections, in one short
 * transaction (a pass runs per appending commit, so it opens no more than it
 * needs). When the tick gave positions, its NOTIFY goes out with the commit
 * (events/sequencer.c). A store whose tables a session is loading
 * (events/store_load.c) is neither ticked nor projected.
 * Returns how many events got positions; *projections gets the names (NIL
 * when the transaction failed).
 */
static int64
rf_tick_store(const RfStoreRef *ref, List **projections)
{
	int64		stamped = 0;

	*projections = NIL;
	PG_TRY();
	{
		RfStore		store;
		int64		head = 0;
		Oid			nsp;

		rf_begin("rillflow: sequencer tick");
		nsp = get_namespace_oid(ref->schema, true);
		if (OidIsValid(nsp) && rf_lock_store_shared(nsp, false))
		{
			rf_store_by_schema(ref->schema, &store);
			stamped = rf_sequence(&store, 0, &head);

			/* A load of the store's tables holds its projections still. */
			if (rf_extension_current &&
				OidIsValid(get_relname_relid("projections", nsp)) &&
				rf_store_load_hold(MyDatabaseId, nsp, NULL) == 0)
			{
				rf_run_plan(&store, &rf_running_projections_spec, NULL, NULL, true, 0);
				MemoryContextSwitchTo(rf_pass_context);
				for (uint64 i = 0; i < SPI_processed; i++)
					*projections = lappend(*projections,
										   SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			}
		}
		rf_end();
	}
	PG_CATCH();
	{
		rf_catch_error(rf_pass_context, psprintf("sequencer tick of store \"%s\"", ref->schema));
		stamped = 0;
		*projections = NIL;
	}
	PG_END_TRY();
	return stamped;
}

/* SET LOCAL name = value, in the current transaction. */
static void
rf_set_local(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Point the current transaction at a store listed at the start of the pass:
 * rillflow.tenant set to its tenant (rillflow.tenant_required off, which a
 * database or role default may have turned on: the worker serves the default
 * store on purpose). False when the store has been dropped since it was
 * listed (drop_tenant), or a drop holds it now: the caller then leaves it
 * alone for this pass, without an error, and never waits on a drop (one left
 * in an open transaction would stall every store).
 * Once true, the store's schema is share-locked to the end of the
 * transaction, so no drop can go on under the batch.
 */
static bool
rf_enter_store(const RfStoreRef *ref)
{
	Oid			nsp = get_namespace_oid(ref->schema, true);

	if (!OidIsValid(nsp) || !rf_lock_store_shared(nsp, false))
		return false;
	rf_set_local("rillflow.tenant", ref->tenant);
	rf_set_local("rillflow.tenant_required", "off");
	return true;
}

/*
 * Record a batch that failed outside its handlers' calls (handler errors,
 * timeouts and cancels are the runtime's, projection_runtime.c) with
 * projection_fail, so retries, backoff and the dead-letter queue apply to it
 * as to a handler error: against the next event after the checkpoint. Worker
 * projections hold no lease between transactions, hence the NULL token.
 */
static void
rf_record_failure(const RfStoreRef *ref, const char *name, ErrorData *edata)
{
	PG_TRY();
	{
		Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		args[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

		rf_begin("rillflow: recording a failed batch");
		if (!rf_enter_store(ref))
		{
			rf_end();
			return;
		}
		args[0] = CStringGetTextDatum(name);
		args[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		args[2] = CStringGetTextDatum(edata->message ? edata->message : "");
		args[3] = edata->detail ? CStringGetTextDatum(edata->detail) : (Datum) 0;
		nulls[3] = edata->detail ? ' ' : 'n';
		args[4] = edata->context ? CStringGetTextDatum(edata->context) : (Datum) 0;
		nulls[4] = edata->context ? ' ' : 'n';
		if (SPI_execute_with_args("SELECT rillflow.projection_fail($1, NULL, NULL, $2, $3, $4, $5)",
								  5, argtypes, args, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not record the failure");
		rf_end();
	}
	PG_CATCH();
	{
		rf_catch_error(rf_pass_context,
					   psprintf("recording the failure of projection \"%s\" in store \"%s\"",
								name, ref->schema));
	}
	PG_END_TRY();
}

/*
 * One batch of one projection, in its own transaction. Its handler calls
 * are bounded by rillflow.batch_statement_timeout in the runtime itself,
 * which keeps the events before a call that ran out of time and charges only
 * an event that runs out of time on its own (projection_runtime.c).
 * Returns the events applied.
 */
static int64
rf_run_one_projection(const RfStoreRef *ref, const char *name)
{
	int64		applied = 0;

	PG_TRY();
	{
		Datum		args[1];

		rf_begin(psprintf("rillflow: projection %s in store %s", name, ref->schema));
		if (!rf_enter_store(ref))
		{
			rf_end();
			return 0;
		}
		args[0] = CStringGetTextDatum(name);
		rf_execute_plan(rf_keep_plan(InvalidOid, &rf_run_batch_plan, ""), args, NULL, false, 1);
		if (SPI_processed != 1)
			elog(ERROR, "run_projection returned no row");
		applied = rf_spi_int8(0, 1);
		rf_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata = rf_catch_error(rf_pass_context,
										   psprintf("projection \"%s\" in store \"%s\"", name, ref->schema));

		/*
		 * A cancel outside the handlers' calls (pg_cancel_backend while the
		 * runtime reads or writes its own rows) is no event's fault: the
		 * batch runs again in the next pass.
		 */
		applied = 0;
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED)
			rf_record_failure(ref, name, edata);
	}
	PG_END_TRY();
	return applied;
}

static const RfPlanSpec rf_snapshotter_plan = {
	"SELECT rillflow.run_snapshotter($1, $2)",
	2, {INT4OID, INT4OID}
};

/* When the snapshotter last ran in this worker. */
static TimestampTz rf_last_snapshotter = 0;

/*
 * The snapshotter of a store (evolution/sql/aggregates.sql), in its own
 * transaction, when rillflow.snapshot_threshold is on. Folds run as their
 * aggregates' owners (evolution/aggregates.c), never as the worker. A store
 * without aggregates is skipped. Returns the streams snapshotted.
 */
static int64
rf_run_snapshotter(const RfStoreRef *ref)
{
	int64		done = 0;

	PG_TRY();
	{
		Datum		args[2];
		Oid			nsp;

		rf_begin(psprintf("rillflow: snapshotter in store %s", ref->schema));
		nsp = get_namespace_oid(ref->schema, true);
		if (OidIsValid(nsp) && OidIsValid(get_relname_relid("aggregates", nsp)))
		{
			rf_set_local("rillflow.tenant", ref->tenant);
			args[0] = Int32GetDatum(rf_snapshot_threshold);
			args[1] = Int32GetDatum(rf_snapshot_batch);
			rf_execute_plan(rf_keep_plan(InvalidOid, &rf_snapshotter_plan, ""), args, NULL, false, 1);
			if (SPI_processed == 1)
				done = rf_spi_int8(0, 1);
		}
		rf_end();
	}
	PG_CATCH();
	{
		(void) rf_catch_error(rf_pass_context, psprintf("snapshotter of store \"%s\"", ref->schema));
		done = 0;
	}
	PG_END_TRY();
	return done;
}

/*
 * One pass over every store of the database. Returns whether it did
 * anything, in which case the worker goes again at once.
 */
static bool
rf_worker_pass(void)
{
	List	   *stores;
	ListCell   *lc;
	RfDbSlot   *slot = &rf_shared->slots[rf_args.slot];
	int64		snapshotted = 0;
	bool		snapshotter = false;

	rf_pass_sequenced = rf_pass_projected = rf_pass_errors = 0;

	/*
	 * The snapshotter scans each store's aggregate streams: at most once per
	 * naptime, or at once again when its last run had work.
	 */
	if (rf_snapshot_threshold > 0 &&
		TimestampDifferenceExceeds(rf_last_snapshotter, GetCurrentTimestamp(), rf_naptime_ms))
	{
		snapshotter = true;
		rf_last_snapshotter = GetCurrentTimestamp();
	}
	stores = rf_list_stores();
	foreach(lc, stores)
	{
		RfStoreRef *ref = lfirst(lc);
		List	   *names;
		ListCell   *nc;

		CHECK_FOR_INTERRUPTS();
		rf_pass_sequenced += rf_tick_store(ref, &names);
		foreach(nc, names)
		{
			CHECK_FOR_INTERRUPTS();
			rf_set_projecting(true);
			rf_pass_projected += rf_run_one_projection(ref, lfirst(nc));
			rf_set_projecting(false);
		}
		if (snapshotter)
			snapshotted += rf_run_snapshotter(ref);
	}
	if (snapshotted > 0)
		rf_last_snapshotter = 0;

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	if (rf_slot_is_ours())
	{
		slot->passes++;
		slot->last_pass_at = GetCurrentTimestamp();
		slot->events_sequenced += rf_pass_sequenced;
		slot->events_projected += rf_pass_projected;
		slot->errors += rf_pass_errors;
	}
	LWLockRelease(rf_shared->lock);
	return rf_pass_sequenced > 0 || rf_pass_projected > 0 || snapshotted > 0;
}

/*
 * Entry point of a database worker (registered by worker_launcher.c).
 */
void
rf_db_worker_main(Datum main_arg)
{
	memcpy(&rf_args, MyBgworkerEntry->bgw_extra, sizeof(rf_args));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (rf_shared == NULL || !rf_slot_attach())
		proc_exit(0);
	before_shmem_exit(rf_slot_detach, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(rf_args.dboid, rf_args.roleoid, 0);
	pgstat_report_appname(RF_WORKER_TYPE);

	/* The worker ticks the log: it never waits for it (events/log_sync.c). */
	rf_log_no_wait = true;

	rf_sequencer_process_settings();

	rf_pass_context = AllocSetContextCreate(TopMemoryContext, "rillflow worker pass",
											ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		busy;
		pid_t		loader = 0;
		char		activity[96];

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!rf_worker_enabled)
			rf_leave(RF_SLOT_DISABLED, "rillflow.worker_enabled is off");
		if (!rf_slot_still_ours())
			rf_leave(RF_SLOT_FREE, "the launcher or a DDL command took the slot back");

		MemoryContextSwitchTo(rf_pass_context);
		busy = rf_worker_pass();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(rf_pass_context);
		pgstat_report_stat(true);
		/* Another database's turn (worker_launcher.c): leave between passes. */
		if (rf_yield_requested())
			rf_leave(RF_SLOT_ROTATED, "another database's turn");
		if (busy)
		{
			/*
			 * Appends keep arriving (this pass and the one before both gave
			 * positions): let the appends of the next moment commit, so one
			 * tick stamps them all (rillflow.tick_coalesce). An append after
			 * a quiet moment is stamped at once, and a pass that applied
			 * projection batches goes on at once.
			 */
			bool		stamped = rf_pass_sequenced > 0;

			if (stamped && rf_last_pass_stamped && rf_pass_projected == 0 && rf_tick_coalesce_us > 0)
				rf_coalesce_pause(rf_tick_coalesce_us);
			rf_last_pass_stamped = stamped;
			continue;
		}
		rf_last_pass_stamped = false;

		/*
		 * The naptime shows in pg_stat_activity.query: a reload is seen. So
		 * does a load that holds a store still (events/store_load.c).
		 */
		(void) rf_store_load_hold(rf_args.dboid, InvalidOid, &loader);
		if (loader != 0)
			snprintf(activity, sizeof(activity), "waiting: pid %d is loading store tables", (int) loader);
		else
			snprintf(activity, sizeof(activity), "waiting (naptime %d ms)", rf_naptime_ms);
		pgstat_report_activity(STATE_IDLE, activity);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 rf_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
