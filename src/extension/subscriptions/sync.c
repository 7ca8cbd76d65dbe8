/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  rillflow._subscription_sync_log: the wait read_all makes
 *	  (events/log_sync.c), for subscription_poll. A poll reads a log that
 *	  covers every event committed before it began, or fails past
 *	  rillflow.log_wait_timeout as read_all does (55P03, 53000).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"

#include "core/store.h"
#include "events/log_sync.h"

PG_FUNCTION_INFO_V1(rillflow_subscription_sync_log);

Datum
rillflow_subscription_sync_log(PG_FUNCTION_ARGS)
{
	const RfStore *store = rf_current_store();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) rf_log_sync(store, false, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
