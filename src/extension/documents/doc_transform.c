/*-------------------------------------------------------------------------
 *
 * doc_transform.c
 *	  Duplicated-field transforms; see doc_transform.h. add_duplicated_field
 *	  accepts only the canonical templates of
 *	  rillflow._duplicated_field_transforms(); this reader takes any nesting
 *	  of the functions below, so it never refuses a stored one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "utils/builtins.h"

#include "documents/doc_transform.h"

/*
 * Read a transform template: {value}, or f(...) around one, for f among
 * lower, upper, trim (btrim), btrim, ltrim, rtrim; spaces allowed. Fills
 * fns innermost first and returns their number, or -1 if it is not one.
 */
int
rf_parse_transform(const char *t, PGFunction *fns)
{
	static const struct
	{
		const char *name;
		PGFunction	fn;
	}			known[] =
	{
		{"lower", lower}, {"upper", upper}, {"trim", btrim1}, {"btrim", btrim1},
		{"ltrim", ltrim1}, {"rtrim", rtrim1},
	};
	PGFunction	outer[RF_MAX_TRANSFORM_DEPTH];
	int			n = 0;
	const char *p = t;

	for (;;)
	{
		int			i;

		while (*p == ' ')
			p++;
		if (strncmp(p, "{value}", 7) == 0)
		{
			p += 7;
			break;
		}
		for (i = 0; i < lengthof(known); i++)
		{
			size_t		len = strlen(known[i].name);

			if (pg_strncasecmp(p, known[i].name, len) == 0)
			{
				const char *q = p + len;

				while (*q == ' ')
					q++;
				if (*q == '(')
				{
					if (n == RF_MAX_TRANSFORM_DEPTH)
						return -1;
					outer[n++] = known[i].fn;
					p = q + 1;
					break;
				}
			}
		}
		if (i == lengthof(known))
			return -1;
	}
	for (int i = 0; i < n; i++)
	{
		while (*p == ' ')
			p++;
		if (*p++ != ')')
			return -1;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return -1;
	for (int i = 0; i < n; i++)
		fns[i] = outer[n - 1 - i];
	return n;
}

/* Apply fns (innermost first) to a text datum. */
Datum
rf_apply_transforms(int n, const PGFunction *fns, Datum text)
{
	for (int i = 0; i < n; i++)
		text = DirectFunctionCall1Coll(fns[i], DEFAULT_COLLATION_OID, text);
	return text;
}
