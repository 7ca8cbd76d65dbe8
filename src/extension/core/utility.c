/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  rillflow's ProcessUtility hook (the library is preloaded, so every
 *	  backend has it). It sees every utility statement before it runs, for
 *	  three subsystems:
 *	  - worker: the commands that need a database to themselves (DROP
 *	    DATABASE, CREATE DATABASE ... TEMPLATE, ...) first pause the database
 *	    and stop its worker (worker/worker_ddl.c), and lift the pause afterwards;
 *	  - events: a COPY into a store's tables by its owner holds that store
 *	    (events/store_load.c);
 *	  - core: COMMIT PREPARED wakes the database's worker.
 *
 *	  Without shared memory (the library loaded but not preloaded) none of
 *	  this applies and the hook is not installed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "core/shmem.h"
#include "core/utility.h"
#include "events/store_load.h"
#include "worker/worker.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
rf_call_next(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			 ProcessUtilityContext context, ParamListInfo params,
			 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

static void
rf_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Oid			dboid = InvalidOid;
	Node	   *parsetree = pstmt->utilityStmt;

	if (rf_shared != NULL)
	{
		dboid = rf_database_needed_alone(parsetree);
		rf_note_store_load(parsetree);

		/*
		 * COMMIT PREPARED makes a prepared transaction's appends visible but
		 * runs none of that transaction's callbacks: wake the worker at this
		 * commit instead. A prepared transaction that appended nothing costs
		 * the worker one idle tick.
		 */
		if (IsA(parsetree, TransactionStmt) &&
			((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
			rf_note_append();
	}
	if (!OidIsValid(dboid) || dboid == MyDatabaseId || !rf_evict_workers(dboid))
	{
		rf_call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	PG_TRY();
	{
		rf_call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		rf_unpause_database(dboid);
	}
	PG_END_TRY();
}

void
rf_utility_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = rf_process_utility;
}
