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

extern int	rf_validate_events(Jsonb *events, bool *has_event_ids);
extern void rf_validate_event_type(const char *type, int len, const char *what);
extern void rf_validate_headers_arg(Jsonb *headers);
extern void rf_validate_idempotency_key(const char *key);
extern void rf_validate_expected_version(int64 expected);

#endif							/* RILLFLOW_EVENT_INPUT_H */
