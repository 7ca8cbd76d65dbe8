/*-------------------------------------------------------------------------
 *
 * doc_transform.h
 *	  The transforms of a duplicated field (lower, upper, trim...): read from
 *	  their stored template, and applied to a value. The trigger applies them
 *	  to the document's value (doc_fields.c), doc_query to the caller's
 *	  (query_sql.c), so the two always agree.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_DOC_TRANSFORM_H
#define RILLFLOW_DOC_TRANSFORM_H

#include "postgres.h"

#include "fmgr.h"

#define RF_MAX_TRANSFORM_DEPTH	4

extern int	rf_parse_transform(const char *t, PGFunction *fns);
extern Datum rf_apply_transforms(int n, const PGFunction *fns, Datum text);

#endif							/* RILLFLOW_DOC_TRANSFORM_H */
