/*-------------------------------------------------------------------------
 *
 * poll_commit.c
 *	  A transaction whose only writes are subscription_poll's own commits
 *	  without waiting for its WAL flush.
 *
 *	  What a poll writes is bookkeeping that may be lost without losing an
 *	  event: a claimed batch, a moved frontier, pending batches, a lease.
 *	  Lost in a crash, the batch is pending again (or its events are past
 *	  the frontier again) and goes to a consumer later, as when a lease runs
 *	  out: at least once, as a poll always promised. The poll's records also
 *	  come before anything the consumer commits after it (an ack, its side
 *	  effects), and that commit flushes the WAL through them: whatever a
 *	  consumer made durable after a poll, the poll is durable too. So the
 *	  commit of a poll on its own need not wait for the disk, and a consumer
 *	  that polls and then acks in its own transaction pays one flush per
 *	  batch, as a work queue drained with SKIP LOCKED does.
 *
 *	  The rule, checked at commit: the transaction wrote no row before its
 *	  first poll (it had no transaction id), and no WAL after its last one. Anything else (the caller's
 *	  own writes before or after, in the same statement or not) and the
 *	  commit is as durable as synchronous_commit says. Events returned by a
 *	  poll are durable before it returns (rf_log_make_durable), whatever
 *	  this file decides.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/guc.h"

#include "subscriptions/subscriptions.h"

/* The WAL end after this transaction's last poll, when it wrote nothing else. */
static XLogRecPtr rf_poll_wal_end = InvalidXLogRecPtr;
static bool rf_poll_only = false;
static bool rf_poll_callback_registered = false;

static void
rf_poll_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && rf_poll_only && XactLastRecEnd == rf_poll_wal_end)
	{
		/* at DEBUG1, so a test can tell which commits wait */
		elog(DEBUG1, "rillflow: a transaction that only polled commits without waiting for its flush");
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		rf_poll_only = false;
}

/*
 * At a poll's start: whether the transaction has written only polls so far
 * (nothing, or nothing since the last poll ended).
 */
bool
rf_poll_commit_begin(void)
{
	/*
	 * No transaction id yet: no row written (WAL it may have written is
	 * page pruning, which needs no flush).
	 */
	return !FullTransactionIdIsValid(GetTopFullTransactionIdIfAny()) ||
		(rf_poll_only && XactLastRecEnd == rf_poll_wal_end);
}

/* At a poll's end: clean is rf_poll_commit_begin()'s answer. */
void
rf_poll_commit_end(bool clean)
{
	if (!rf_poll_callback_registered)
	{
		RegisterXactCallback(rf_poll_xact_callback, NULL);
		rf_poll_callback_registered = true;
	}
	rf_poll_only = clean;
	rf_poll_wal_end = XactLastRecEnd;
}
