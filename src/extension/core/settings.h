/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The settings defined by the module's _PG_init (rillflow.c). Each
 *	  subsystem with settings of its own defines them in its init function
 *	  (rf_documents_init, rf_worker_init) and declares them in its header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_SETTINGS_H
#define RILLFLOW_SETTINGS_H

#include "postgres.h"

/* rillflow.tenant: the tenant whose store the API acts on ("" the default) */
extern char *rf_tenant_setting;

/* rillflow.tenant_required: an empty rillflow.tenant is an error (RF005), not the default store */
extern bool rf_tenant_required;

/* rillflow.stream_advisory_locks: appends lock their stream first */
extern bool rf_stream_advisory_locks;

#endif							/* RILLFLOW_SETTINGS_H */
