/*-------------------------------------------------------------------------
 *
 * documents_init.c
 *	  The documents' settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rillflow.h"

void
rf_documents_init(void)
{
}
