/*-------------------------------------------------------------------------
 *
 * json.h
 *	  Helpers on JSON values shared by the functions that read JSON
 *	  arguments (append's events, doc_query's spec).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_JSON_H
#define RILLFLOW_JSON_H

#include "postgres.h"

#include "utils/jsonb.h"

/* The type of a JSON value as a noun, for error messages. */
extern const char *rf_json_type_name(const JsonbValue *v);

#endif							/* RILLFLOW_JSON_H */
