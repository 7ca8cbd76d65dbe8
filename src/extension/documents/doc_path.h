/*-------------------------------------------------------------------------
 *
 * doc_path.h
 *	  Dotted paths into a document (profile.address.city, tags.0): the one
 *	  rule every documents function checks a path against (doc_query's
 *	  spec, doc_patch, doc_patch_fields, add_duplicated_field,
 *	  index_advisor, and SQL callers through rillflow._check_field_path).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_DOC_PATH_H
#define RILLFLOW_DOC_PATH_H

#include "postgres.h"

#define RF_DOC_PATH_MAX_PARTS	32
#define RF_DOC_PATH_MAX_PART_LEN 63
#define RF_DOC_PATH_HINT \
	"A path is 1 to 32 dot-separated parts: keys of letters, digits and _ not starting with a digit, " \
	"or, after the first part, array indexes of digits, as in profile.name or tags.0."

/* A checked path: its parts, and which parts are array indexes. */
typedef struct RfDocPath
{
	int			nparts;
	char	   *parts[RF_DOC_PATH_MAX_PARTS];
	bool		is_index[RF_DOC_PATH_MAX_PARTS];
} RfDocPath;

/*
 * Check a dotted path and split it into parts. Returns NULL when the path is
 * valid, or a sentence saying what is wrong with it (the errdetail of the
 * caller's error, whose message names the argument).
 */
extern const char *rf_parse_doc_path(const char *path, RfDocPath *out);

/*
 * rf_parse_doc_path or a 22023 error "invalid path '...' in <what>" (what is
 * the argument or the spec location, e.g. "path", "filter.eq[0]"), with what
 * is wrong as the detail.
 */
extern void rf_doc_path_or_error(const char *path, const char *what, RfDocPath *out);

/* The path as a text[] literal body ({profile,name}), for #> and #>>. */
extern char *rf_doc_path_array_literal(const RfDocPath *path);

#endif							/* RILLFLOW_DOC_PATH_H */
