/*-------------------------------------------------------------------------
 *
 * doc_fields.h
 *	  Dotted document paths, and duplicated fields.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_DOC_FIELDS_H
#define RILLFLOW_DOC_FIELDS_H

#include "postgres.h"

#define RF_DOC_PATH_MAX_PARTS	32
#define RF_DOC_PATH_HINT \
	"A path is dot-separated keys (letters, digits and _, not starting with a digit) or array indexes, at most 32 parts, as in profile.name or tags.0."

/*
 * Raise 22023 naming argname unless path is a valid dotted path. Returns the
 * number of parts.
 */
extern int	rf_check_field_path(const char *path, const char *argname);

#endif							/* RILLFLOW_DOC_FIELDS_H */
