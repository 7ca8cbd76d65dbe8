/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Helpers on JSON values; see json.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "core/json.h"

/* The type of a JSON value as a noun: "string", "object", "null"... */
const char *
rf_json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "value";
	}
}
