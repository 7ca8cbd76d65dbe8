/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: settings, shared memory and the launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rillflow.h"

void
rf_worker_init(void)
{
}
