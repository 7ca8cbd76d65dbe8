/*-------------------------------------------------------------------------
 *
 * subscriptions.h
 *	  Stream categories, for the append path and the subscription filters
 *	  (categories.c); the commit of a transaction that only polled
 *	  (poll_commit.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_SUBSCRIPTIONS_H
#define RILLFLOW_SUBSCRIPTIONS_H

#include "postgres.h"

#include "utils/uuid.h"

#include "core/store.h"

/* The longest category: the longest alias (events.sql, resolve_stream_alias). */
#define RF_CATEGORY_MAXLEN 512

/* Raise 22023 unless category is a valid category (see categories.c). */
extern void rf_check_category(const char *category);

/*
 * Give the stream its category on its first append (created: this append
 * made the stream), or check that it has that one. SPI must be connected.
 */
extern void rf_set_stream_category(const RfStore *store, pg_uuid_t *stream_id, text *category,
								   bool created);

/*
 * Around subscription_poll: a transaction whose only writes are polls
 * commits without waiting for its flush (see poll_commit.c).
 */
extern bool rf_poll_commit_begin(void);
extern void rf_poll_commit_end(bool clean);

#endif							/* RILLFLOW_SUBSCRIPTIONS_H */
