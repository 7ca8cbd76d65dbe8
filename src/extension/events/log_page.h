/*-------------------------------------------------------------------------
 *
 * log_page.h
 *	  A page of the whole log for read_all by one range scan (log_page.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_LOG_PAGE_H
#define RILLFLOW_LOG_PAGE_H

#include "postgres.h"

#include "funcapi.h"
#include "utils/tuplestore.h"

#include "core/store.h"
#include "evolution/evolution.h"

/*
 * The events after position `after`, at most max_count, into `result` in
 * the envelope's shape (result_desc), upcast through `ups` when not NULL.
 * Returns false, having read nothing, when the page's events are not close
 * together in seq order: then the caller reads it with a join. SPI must be
 * connected.
 */
extern bool rf_read_log_page(const RfStore *store, int64 after, int32 max_count,
							 RfUpcasters *ups, Tuplestorestate *result, TupleDesc result_desc);

#endif							/* RILLFLOW_LOG_PAGE_H */
