/*-------------------------------------------------------------------------
 *
 * log_segments.c
 *	  Finding an event's place in a segment of the global log (store step 12,
 *	  log_segments.h): the seqs of a segment rise with its positions, so the
 *	  index of a seq is a binary search, where = ANY and array_position walk
 *	  the array calling the type's equality for every element (a long
 *	  stream's read paid about 5 microseconds an event for that).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"

#include "events/log_segments.h"

PG_FUNCTION_INFO_V1(rillflow_segment_index);

int
rf_segment_fall(const int64 *seqs, int n)
{
	for (int k = 1; k < n; k++)
		if (seqs[k] <= seqs[k - 1])
			return k;
	return 0;
}

/*
 * rillflow._segment_index(seqs bigint[], seq bigint) RETURNS integer
 *
 * The 1-based index of seq in a segment's seqs, NULL when the segment does
 * not hold it (or is not a one-dimensional array without NULLs, as no tick
 * writes). A search that finds nothing in seqs that do not rise (a
 * restored row no tick wrote, which reads do not wait out) is an error,
 * not a NULL: the seq may well be there, out of place.
 */
Datum
rillflow_segment_index(PG_FUNCTION_ARGS)
{
	ArrayType  *seqs = PG_GETARG_ARRAYTYPE_P(0);
	int64		seq = PG_GETARG_INT64(1);
	const int64 *data;
	int			lo = 0;
	int			hi;
	int			fall;

	if (ARR_NDIM(seqs) != 1 || ARR_HASNULL(seqs) || ARR_ELEMTYPE(seqs) != INT8OID)
		PG_RETURN_NULL();
	data = (const int64 *) ARR_DATA_PTR(seqs);
	hi = ARR_DIMS(seqs)[0] - 1;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (data[mid] == seq)
			PG_RETURN_INT32(mid + 1);
		if (data[mid] < seq)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	fall = rf_segment_fall(data, ARR_DIMS(seqs)[0]);
	if (fall > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a log segment has seqs that do not rise: %lld follows %lld",
						(long long) data[fall], (long long) data[fall - 1]),
				 errhint("Restore the store's log_segments from a dump of the store (docs/global-log.md, \"Backups and restores\").")));
	PG_RETURN_NULL();
}
