/*-------------------------------------------------------------------------
 *
 * rillflow.c
 *	  Module entry point: the magic block, the settings of the store and
 *	  the append path, and each subsystem's initialisation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "archive/archive.h"
#include "core/settings.h"
#include "core/shmem.h"
#include "core/store.h"
#include "core/utility.h"
#include "documents/collections.h"
#include "events/log_sync.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

char	   *rf_tenant_setting = NULL;
bool		rf_stream_advisory_locks = false;
bool		rf_tenant_required = false;

/*
 * Reject a malformed tenant name when it is set, so a typo fails at SET time
 * instead of at the first call. Whether the tenant exists is checked at use,
 * because tenants come and go while the setting stays.
 */
/* True while _PG_init defines rillflow.tenant (see rf_check_tenant). */
static bool rf_defining_tenant = false;

static bool
rf_check_tenant(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	/*
	 * Without shared_preload_libraries, a session can SET rillflow.tenant
	 * before its first call loads the library; the definition then applies
	 * that value, and a value refused here would be dropped with a WARNING,
	 * leaving the calls on the default store. Keep it instead: the first
	 * call fails on it (RF005), never silently on another store.
	 */
	if (rf_defining_tenant)
		return true;
	if (!rf_tenant_name_is_valid(*newval))
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("invalid tenant name \"%s\" for rillflow.tenant", *newval);
		GUC_check_errhint(RF_TENANT_NAME_HINT);
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	rf_defining_tenant = true;
	DefineCustomStringVariable("rillflow.tenant",
							   "The tenant whose store rillflow's functions act on.",
							   "Empty means the default store.",
							   &rf_tenant_setting,
							   "",
							   PGC_USERSET,
							   0,
							   rf_check_tenant, NULL, NULL);
	rf_defining_tenant = false;

	DefineCustomBoolVariable("rillflow.tenant_required",
							 "Every call must name a tenant: an empty rillflow.tenant is an error, not the default store.",
							 "For applications with a store per tenant, where a forgotten tenant must fail (RF005).",
							 &rf_tenant_required,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("rillflow.stream_advisory_locks",
							 "Appends take a per-stream advisory lock before touching the stream.",
							 "Queues heavy writer contention on one stream in the lock manager.",
							 &rf_stream_advisory_locks,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	rf_documents_init();
	rf_archive_init();
	rf_log_sync_init();
	rf_worker_init();

	/*
	 * The settings exist wherever the library is loaded; shared memory, the
	 * utility hook and the launcher only when it is preloaded
	 * (shared_preload_libraries), the only way a background worker can
	 * start.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		rf_shmem_init();
		rf_utility_init();
		/*
		 * Not while pg_upgrade runs the server (binary upgrade mode): a
		 * worker would write to tables whose files pg_upgrade then
		 * replaces (docs/operations.md).
		 */
		if (!IsBinaryUpgrade)
			rf_worker_register_launcher();
	}

	MarkGUCPrefixReserved("rillflow");
}
