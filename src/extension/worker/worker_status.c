/*-------------------------------------------------------------------------
 *
 * worker_status.c
 *	  The SQL views of the worker's shared state (rillflow._worker_slots,
 *	  behind rillflow.worker_status), and the launcher's wake-up at CREATE
 *	  EXTENSION.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "worker/worker.h"

PG_FUNCTION_INFO_V1(rillflow_worker_slots);
PG_FUNCTION_INFO_V1(rillflow_worker_extension_created);

static const char *
rf_slot_state_name(RfSlotState state)
{
	switch (state)
	{
		case RF_SLOT_FREE:
			return "stopping";
		case RF_SLOT_REGISTERED:
			return "starting";
		case RF_SLOT_RUNNING:
			return "running";
		case RF_SLOT_NO_EXTENSION:
			return "no extension";
		case RF_SLOT_DISABLED:
			return "disabled";
		case RF_SLOT_ROTATED:
			return "rotating";
	}
	return "unknown";
}

/*
 * rillflow._worker_slots() RETURNS TABLE(process text, datid oid, pid int,
 *     state text, started_at timestamptz, last_pass_at timestamptz,
 *     passes bigint, events_sequenced bigint, events_projected bigint,
 *     errors bigint)
 *
 * The launcher and every database worker slot in use.
 */
Datum
rillflow_worker_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[10];
	bool		nulls[10];

	InitMaterializedSRF(fcinfo, 0);
	if (rf_shared == NULL)
	{
		/*
		 * The library was not preloaded: no worker can run, readers tick the
		 * log themselves and rillflow.run_maintenance() does the rest
		 * (docs/managed-postgresql.md). One row says so.
		 */
		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum("launcher");
		nulls[0] = false;
		values[3] = CStringGetTextDatum("not preloaded");
		nulls[3] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		PG_RETURN_VOID();
	}

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	if (rf_shared->launcher_pid != 0)
	{
		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum("launcher");
		nulls[0] = false;
		values[2] = Int32GetDatum(rf_shared->launcher_pid);
		nulls[2] = false;
		values[3] = CStringGetTextDatum(rf_worker_enabled ? "running" : "disabled");
		nulls[3] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == InvalidOid)
			continue;
		memset(nulls, false, sizeof(nulls));
		values[0] = CStringGetTextDatum("worker");
		values[1] = ObjectIdGetDatum(slot->dboid);
		values[2] = Int32GetDatum(slot->pid);
		nulls[2] = slot->pid == 0;
		/* asked to give the slot to a waiting database: leaves after its pass */
		values[3] = CStringGetTextDatum(slot->yield_requested && slot->state == RF_SLOT_RUNNING
										? "rotating" : rf_slot_state_name(slot->state));
		values[4] = TimestampTzGetDatum(slot->started_at);
		nulls[4] = slot->started_at == 0;
		values[5] = TimestampTzGetDatum(slot->last_pass_at);
		nulls[5] = slot->last_pass_at == 0;
		values[6] = Int64GetDatum(slot->passes);
		values[7] = Int64GetDatum(slot->events_sequenced);
		values[8] = Int64GetDatum(slot->events_projected);
		values[9] = Int64GetDatum(slot->errors);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/*
	 * While the worker is on, every other database known to have the
	 * extension: waiting for a slot (its turn, worker_launcher.c), or not
	 * started yet.
	 * last_pass_at is when a worker last served it.
	 */
	for (int k = 0; rf_worker_enabled && k < RF_MAX_KNOWN_DBS; k++)
	{
		RfKnownDb  *known = &rf_shared->known[k];
		bool		has_slot = false;

		if (!OidIsValid(known->dboid))
			continue;
		for (int i = 0; i < rf_shared->nslots; i++)
			if (rf_shared->slots[i].dboid == known->dboid)
				has_slot = true;
		if (has_slot)
			continue;
		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum("worker");
		nulls[0] = false;
		values[1] = ObjectIdGetDatum(known->dboid);
		nulls[1] = false;
		values[3] = CStringGetTextDatum(known->waiting ? "waiting for a slot" : "not started");
		nulls[3] = false;
		values[5] = TimestampTzGetDatum(known->last_served_at);
		nulls[5] = known->last_served_at == 0;
		for (int c = 6; c < 10; c++)
		{
			values[c] = Int64GetDatum(0);
			nulls[c] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(rf_shared->lock);
	PG_RETURN_VOID();
}

/*
 * rillflow._worker_extension_created() RETURNS void
 *
 * Run by the install script: at commit, the launcher looks at the databases
 * it had found without the extension again, so a worker starts here within
 * a naptime.
 */
Datum
rillflow_worker_extension_created(PG_FUNCTION_ARGS)
{
	rf_note_extension_created();
	PG_RETURN_VOID();
}
