/*-------------------------------------------------------------------------
 *
 * event_ids.c
 *	  The ids the store gives events that arrive without one: time-ordered
 *	  UUIDs (RFC 9562 version 7) rather than random ones (version 4).
 *
 *	  Every event has an entry in the unique index on event_id. A random id
 *	  lands on a random leaf of that index, so each append reads and dirties
 *	  a page of its own: once the index outgrows shared_buffers appends wait
 *	  on reads, and after every checkpoint the first change to each leaf
 *	  writes the whole page to the WAL again. A time-ordered id lands on the
 *	  index's rightmost leaves, as the seq does (docs/performance.md).
 *
 *	  Layout: 48 bits of Unix time in milliseconds, the version (7), 12
 *	  bits of the sub-millisecond fraction (RFC 9562 section 6.2, method 3),
 *	  the variant, and 62 random bits. Within a backend the ids strictly
 *	  rise even when the clock stands still or steps back: each is at least
 *	  one fraction step past the one before. Across backends they rise with
 *	  time, which is all the index needs; the random bits keep them unique.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "port.h"
#include "utils/timestamp.h"

#include "events/event_ids.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define RF_UNIX_TO_PG_EPOCH_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* The last id's time in this backend, in 1/4096 ms steps. */
static int64 rf_last_id_steps = 0;

/* n new ids into ids[0..n-1], their random bits drawn in one call. */
void
rf_new_event_ids(pg_uuid_t *ids, int n)
{
	uint8	   *random = palloc(8 * (Size) n);
	int64		unix_usecs = GetCurrentTimestamp() + RF_UNIX_TO_PG_EPOCH_USECS;
	int64		steps = (unix_usecs / 1000) * 4096 + ((unix_usecs % 1000) * 4096) / 1000;

	if (!pg_strong_random(random, 8 * (Size) n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bits for an event id")));
	for (int k = 0; k < n; k++)
	{
		pg_uuid_t  *id = &ids[k];
		int64		millis;
		int			fraction;

		if (steps <= rf_last_id_steps)
			steps = rf_last_id_steps + 1;
		rf_last_id_steps = steps;
		millis = steps >> 12;
		fraction = (int) (steps & 0xFFF);

		for (int i = 0; i < 6; i++)
			id->data[i] = (unsigned char) (millis >> (8 * (5 - i)));
		id->data[6] = (unsigned char) (0x70 | (fraction >> 8));
		id->data[7] = (unsigned char) (fraction & 0xFF);
		memcpy(id->data + 8, random + 8 * k, 8);
		id->data[8] = (unsigned char) ((id->data[8] & 0x3F) | 0x80);
	}
	pfree(random);
}
