/*-------------------------------------------------------------------------
 *
 * event_ids.h
 *	  The ids the store gives events that arrive without one
 *	  (events/event_ids.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_EVENT_IDS_H
#define RILLFLOW_EVENT_IDS_H

#include "postgres.h"

#include "utils/uuid.h"

extern void rf_new_event_ids(pg_uuid_t *ids, int n);

#endif							/* RILLFLOW_EVENT_IDS_H */
