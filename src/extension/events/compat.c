/*-------------------------------------------------------------------------
 *
 * compat.c
 *	  C entry points that only a released version's SQL names. After a new
 *	  shared library is installed, a database keeps the SQL of its version
 *	  until ALTER EXTENSION rillflow UPDATE runs, and its functions must keep
 *	  working meanwhile; and CREATE EXTENSION rillflow VERSION '0.1.0' (a
 *	  restore of an old dump, the upgrade test) needs every symbol its
 *	  script names. See docs/upgrades.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "core/store.h"
#include "events/compat.h"
#include "events/log_sync.h"

PG_FUNCTION_INFO_V1(rillflow_sequence);
PG_FUNCTION_INFO_V1(rillflow_may_sequence);

/*
 * 0.1.0: rillflow._may_sequence() RETURNS boolean
 *
 * Whether a 0.1.0 reader should call _sequence before reading. Always: that
 * call now waits for the log instead of ticking (below).
 */
Datum
rillflow_may_sequence(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(true);
}

/*
 * 0.1.0: rillflow._sequence(store name) RETURNS bigint
 *
 * In 0.1.0 a tick in the caller's transaction, which could give positions
 * that a crash took back (issue 8). Now the reader's wait for the log
 * (log_sync.c) on that store: the 0.1.0 readers (head_position,
 * projection_acquire) go on to read a log that includes every event
 * committed before the call. Returns how many positions the log gained
 * meanwhile.
 */
Datum
rillflow_sequence(PG_FUNCTION_ARGS)
{
	RfStore		store;
	int64		gained = 0;

	rf_store_by_schema(NameStr(*PG_GETARG_NAME(0)), &store);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) rf_log_sync(&store, true, &gained);
	SPI_finish();
	PG_RETURN_INT64(gained);
}

/*
 * Raise 55000 unless the database's extension is at this library's version.
 * For the paths whose tables a released version lacks (projections run with
 * their owner's rights since 0.2.0, and 0.1.0 stores have no owner column):
 * they refuse, naming the fix, rather than fail on a missing column. Only
 * "current" is remembered: an update never goes back.
 */
void
rf_require_current_extension(void)
{
	char	   *version;

	if (rf_extension_is_current())
		return;
	version = rf_installed_extension_version();
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("rillflow's SQL in this database is version %s, its library version %s",
					version ? version : "(none)", RILLFLOW_VERSION),
			 errhint("Run ALTER EXTENSION rillflow UPDATE, then SELECT rillflow.schema_sync().")));
}

/*
 * Whether the database's extension is at this library's version. Only
 * "current" is remembered (an update never goes back), so once it is, the
 * callers (every worker pass, every projection run) pay nothing.
 */
bool
rf_extension_is_current(void)
{
	static bool current = false;
	char	   *version;

	if (current)
		return true;
	version = rf_installed_extension_version();
	current = version != NULL && strcmp(version, RILLFLOW_VERSION) == 0;
	return current;
}

/* extversion of rillflow in this database, or NULL; palloc'd. */
char *
rf_installed_extension_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("rillflow"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}
