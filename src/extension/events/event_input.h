/*-------------------------------------------------------------------------
 *
 * event_input.h
 *	  Validation of what callers pass to the append functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_EVENT_INPUT_H
#define RILLFLOW_EVENT_INPUT_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/uuid.h"

#define RF_EVENT_TYPE_MAXLEN		255
#define RF_IDEMPOTENCY_KEY_MAXLEN	512

/* The events of an append_events call, column by column. */
typedef struct RfEventColumns
{
	int			count;
	Datum	   *types;			/* text */
	Datum	   *bodies;			/* jsonb */
	Datum	   *headers;		/* jsonb, or null where headers_null */
	bool	   *headers_null;
	Datum	   *event_versions; /* int4 */
	Datum	   *event_ids;		/* uuid, or null where event_ids_null */
	bool	   *event_ids_null;
	bool		has_event_ids;	/* some event brings its own id */
} RfEventColumns;

extern void rf_read_events(Jsonb *events, RfEventColumns *out);
extern void rf_validate_event_type(const char *type, int len, const char *what);
extern void rf_validate_headers_arg(Jsonb *headers);
extern void rf_validate_idempotency_key(const char *key);
extern void rf_validate_expected_version(int64 expected);

#endif							/* RILLFLOW_EVENT_INPUT_H */
