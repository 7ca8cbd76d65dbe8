/*-------------------------------------------------------------------------
 *
 * documents_init.c
 *	  The documents' settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "documents/collections.h"

bool		rf_auto_create_collections = true;

void
rf_documents_init(void)
{
	DefineCustomBoolVariable("rillflow.auto_create_collections",
							 "The first write to a collection that does not exist creates it.",
							 "When off, writes to a missing collection fail with RF004 as reads do.",
							 &rf_auto_create_collections,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}
