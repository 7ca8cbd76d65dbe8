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

/*
 * For projection batches: the events after `after` up to `head`, at most
 * max_count positions, as composites of envelope_type in *events, their
 * positions in *positions, *nevents of them. Returns the page's count of
 * positions (more than *nevents when events of the page are no longer in
 * the table), or -1, having read nothing, when the page must be read with a
 * join. SPI must be connected; the rows live in the current memory context.
 */
extern int	rf_read_log_page_rows(const RfStore *store, int64 after, int64 head, int32 max_count,
								  Oid envelope_type, int64 **positions, Datum **events, int *nevents);

#endif							/* RILLFLOW_LOG_PAGE_H */
