/*-------------------------------------------------------------------------
 *
 * archive.h
 *	  Hot and cold events (archive.c): the archive settings, and what the
 *	  reads need to leave archived events out.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_ARCHIVE_H
#define RILLFLOW_ARCHIVE_H

#include "postgres.h"

#include "fmgr.h"

#include "core/plans.h"
#include "core/store.h"

/* rillflow.archive_redirect: an append to an archived stream reactivates it */
extern bool rf_archive_redirect;

/* rillflow.include_archived_by_default: what include_archived NULL means */
extern bool rf_include_archived_by_default;

extern void rf_archive_init(void);
extern bool rf_archive_include(FunctionCallInfo fcinfo, int argno);
extern const RfPlanSpec *rf_archive_hot_spec(const RfPlanSpec *spec);
extern bool rf_archive_has_events(const RfStore *store);
extern void rf_archive_reactivate_for_append(const RfStore *store, Datum stream_id);

#endif							/* RILLFLOW_ARCHIVE_H */
