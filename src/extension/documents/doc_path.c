/*-------------------------------------------------------------------------
 *
 * doc_path.c
 *	  The dotted path rule: ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$
 *	  with at most 32 parts, where a part after the first may also be all
 *	  digits (an array index, tags.0; a document is an object, so the first
 *	  part is always a key). A path that passes contains only those characters, so
 *	  no part ever needs quoting; callers still emit parts as quoted literals.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "core/args.h"
#include "documents/doc_path.h"

static bool
rf_is_key_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
rf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Check a dotted path and split it into parts (palloc'd). Returns NULL when
 * the path is valid, else what is wrong with it, as a sentence for errdetail.
 */
const char *
rf_parse_doc_path(const char *path, RfDocPath *out)
{
	const char *p = path;

	out->nparts = 0;
	if (path == NULL || *path == '\0')
		return "The path is empty.";
	for (;;)
	{
		const char *start = p;
		bool		index = rf_is_digit(*p);
		int			len;

		if (!index && !rf_is_key_start(*p))
			return *p == '\0' || *p == '.' ? "The path has an empty part."
				: "The path has a character other than letters, digits, _ and dots.";
		while (*p != '\0' && *p != '.')
		{
			if (!rf_is_key_start(*p) && !rf_is_digit(*p))
				return "The path has a character other than letters, digits, _ and dots.";
			if (index && !rf_is_digit(*p))
				return "A part starts with a digit but is not an array index (all digits).";
			p++;
		}
		if (index && out->nparts == 0)
			return "The path starts with an array index; its first part must be a key.";
		len = p - start;
		if (len > RF_DOC_PATH_MAX_PART_LEN)
			return "A part is longer than 63 characters.";
		if (index && len > 9)
			return "An array index is larger than 999999999.";
		if (out->nparts == RF_DOC_PATH_MAX_PARTS)
			return "The path has more than 32 parts.";
		out->parts[out->nparts] = pnstrdup(start, len);
		out->is_index[out->nparts] = index;
		out->nparts++;
		if (*p == '\0')
			return NULL;
		p++;					/* the dot */
	}
}

void
rf_doc_path_or_error(const char *path, const char *what, RfDocPath *out)
{
	const char *problem = rf_parse_doc_path(path, out);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid path %s in %s",
						rf_quote_arg(path ? path : "", 100), what),
				 errdetail("%s", problem),
				 errhint(RF_DOC_PATH_HINT)));
}

char *
rf_doc_path_array_literal(const RfDocPath *path)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < path->nparts; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, path->parts[i]);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
