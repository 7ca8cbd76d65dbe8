/*-------------------------------------------------------------------------
 *
 * log_segments.c
 *	  Finding an event's place in a segment of the global log (store step 12,
 *	  log_segments.h): the seqs of a segment rise with its positions, so the
 *	  index of a seq is a binary search, where = ANY and array_position walk
 *	  the array calling the type's equality for every element (a long
 *	  stream's read paid about 5 microseconds an event for that). And the
 *	  shape every segment must have, which the table's CHECK constraint
 *	  holds it to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"

#include "events/log_segments.h"

PG_FUNCTION_INFO_V1(rillflow_segment_index);
PG_FUNCTION_INFO_V1(rillflow_segment_shaped);

/*
 * rillflow._segment_shaped(max_seq bigint, seqs bigint[]) RETURNS boolean
 *
 * Whether a row of log_segments has the shape a tick writes: seqs a
 * one-dimensional array of 1..RF_SEGMENT_MAX seqs without NULLs, strictly
 * rising, the last of them max_seq. The CHECK constraint of the table
 * (store step 12), so that no row of another shape (a hand-made one, or one
 * a restore of a damaged dump loads) ever reaches a reader: they unnest the
 * seqs in C and search them by halves.
 */
Datum
rillflow_segment_shaped(PG_FUNCTION_ARGS)
{
	int64		max_seq = PG_GETARG_INT64(0);
	ArrayType  *seqs = PG_GETARG_ARRAYTYPE_P(1);
	const int64 *data;
	int			n;

	if (ARR_NDIM(seqs) != 1 || ARR_HASNULL(seqs) || ARR_ELEMTYPE(seqs) != INT8OID)
		PG_RETURN_BOOL(false);
	n = ARR_DIMS(seqs)[0];
	if (n < 1 || n > RF_SEGMENT_MAX)
		PG_RETURN_BOOL(false);
	data = (const int64 *) ARR_DATA_PTR(seqs);
	for (int k = 1; k < n; k++)
		if (data[k] <= data[k - 1])
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(data[n - 1] == max_seq);
}

/*
 * rillflow._segment_index(seqs bigint[], seq bigint) RETURNS integer
 *
 * The 1-based index of seq in a segment's seqs, NULL when the segment does
 * not hold it (or is not a one-dimensional array without NULLs, as no tick
 * writes; the table's CHECK constraint keeps such rows out).
 */
Datum
rillflow_segment_index(PG_FUNCTION_ARGS)
{
	ArrayType  *seqs = PG_GETARG_ARRAYTYPE_P(0);
	int64		seq = PG_GETARG_INT64(1);
	const int64 *data;
	int			lo = 0;
	int			hi;

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
	PG_RETURN_NULL();
}
