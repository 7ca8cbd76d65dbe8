/*-------------------------------------------------------------------------
 *
 * query_parse.c
 *	  Read a document query spec (JSON) into an RfQuery, checking every part
 *	  of it first: nothing is run for a spec that is malformed anywhere.
 *
 *	  Every error is 22023 and its message starts with where in the spec the
 *	  problem is (filter.and[1].gte: expected [path, value]), so the caller
 *	  can find it in a large spec. In a compiled query a value "$name" is a
 *	  parameter: compile_query only records it, run_query puts the value from
 *	  its params object in its place and checks it like any other value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/args.h"
#include "core/json.h"
#include "query/query_spec.h"

#define RF_OPERATORS_HINT \
	"Operators: eq ne gt gte lt lte like ilike in nin contains exists, and and or not."

typedef struct RfParser
{
	RfParams   *params;
	int			nodes;
} RfParser;

static void rf_spec_fail(const char *where, const char *hint, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* Raise the 22023 error every malformed spec gets. */
static void
rf_spec_fail(const char *where, const char *hint, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: %s", where, buf.data),
			 hint ? errhint("%s", hint) : 0));
}

/* The type of a JSON value with its article, for "got %s": "an object", "null". */
static const char *
rf_json_type_phrase(const JsonbValue *v)
{
	const char *noun = rf_json_type_name(v);

	if (v->type == jbvNull)
		return noun;
	return psprintf("%s %s", (noun[0] == 'a' || noun[0] == 'o') ? "an" : "a", noun);
}

static bool
rf_jv_is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
rf_jv_is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

static char *
rf_jv_cstring(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The elements of an array container (skipping nested structure). */
static int
rf_array_elems(JsonbContainer *c, JsonbValue **out)
{
	int			n = JsonContainerSize(c);
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	*out = palloc(sizeof(JsonbValue) * Max(n, 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			(*out)[i++] = v;
	return i;
}

/* The keys and values of an object container, in jsonb's key order. */
static int
rf_object_pairs(JsonbContainer *c, char ***keys, JsonbValue **vals)
{
	int			n = JsonContainerSize(c);
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	*keys = palloc(sizeof(char *) * Max(n, 1));
	*vals = palloc(sizeof(JsonbValue) * Max(n, 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			(*keys)[i] = rf_jv_cstring(&v);
		else if (tok == WJB_VALUE)
			(*vals)[i++] = v;
	}
	return i;
}

/* Is this string a compiled-query parameter reference ($name)? */
static bool
rf_is_param_ref(const JsonbValue *v)
{
	if (v->type != jbvString || v->val.string.len < 2 || v->val.string.val[0] != '$')
		return false;
	for (int i = 1; i < v->val.string.len; i++)
	{
		char		c = v->val.string.val[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i > 1 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/*
 * Resolve a value position. Returns false for a parameter while compiling
 * (the caller then skips its type checks); otherwise *out is the value to
 * use, which for run_query is the parameter's value.
 */
static bool
rf_resolve(RfParser *p, const JsonbValue *in, JsonbValue *out, const char **param)
{
	*param = NULL;
	*out = *in;
	if (p->params == NULL || p->params->mode == RF_PARAMS_NONE || !rf_is_param_ref(in))
		return true;
	*param = rf_jv_cstring(in) + 1;
	if (!list_member(p->params->seen, makeString((char *) *param)))
		p->params->seen = lappend(p->params->seen, makeString((char *) *param));
	if (p->params->mode == RF_PARAMS_COLLECT)
		return false;
	else
	{
		JsonbValue	key;
		JsonbValue *found;

		key.type = jbvString;
		key.val.string.val = (char *) *param;
		key.val.string.len = strlen(*param);
		found = findJsonbValueFromContainer(&p->params->values->root, JB_FOBJECT, &key);
		if (found == NULL)		/* rf_check_params has already caught this */
			elog(ERROR, "parameter %s missing", *param);
		*out = *found;
		return true;
	}
}

/* A path argument: a dotted document path or a pseudo-path ($id...). */
static void
rf_parse_path(const JsonbValue *v, const char *where, RfPath *out, bool allow_columns)
{
	char	   *text;

	if (v->type != jbvString)
		rf_spec_fail(where, RF_DOC_PATH_HINT, "expected a path string, got %s", rf_json_type_phrase(v));
	text = rf_jv_cstring(v);
	memset(out, 0, sizeof(*out));
	out->text = text;
	if (text[0] == '$')
	{
		static const char *const columns[] = {"id", "version", "created_at", "updated_at", "deleted_at"};

		if (allow_columns)
			for (int i = 0; i < lengthof(columns); i++)
				if (strcmp(text + 1, columns[i]) == 0)
				{
					out->column = columns[i];
					return;
				}
		rf_spec_fail(where, allow_columns
					 ? "The pseudo-paths are $id, $version, $created_at, $updated_at and $deleted_at."
					 : "A pseudo-path ($id...) cannot be used here.",
					 "unknown pseudo-path %s", rf_quote_arg(text, 64));
	}
	rf_doc_path_or_error(text, where, &out->doc);
}

/* A scalar comparison value: string, number, boolean, null or a timestamp object. */
static void
rf_parse_scalar(RfParser *p, const JsonbValue *in, const char *where, RfValue *out)
{
	JsonbValue	v;

	memset(out, 0, sizeof(*out));
	if (!rf_resolve(p, in, &v, &out->param))
		return;
	switch (v.type)
	{
		case jbvNull:
			out->kind = RF_VALUE_NULL;
			return;
		case jbvString:
			out->kind = RF_VALUE_STRING;
			out->datum = PointerGetDatum(cstring_to_text_with_len(v.val.string.val, v.val.string.len));
			return;
		case jbvNumeric:
			out->kind = RF_VALUE_NUMBER;
			out->datum = NumericGetDatum(v.val.numeric);
			return;
		case jbvBool:
			out->kind = RF_VALUE_BOOL;
			out->datum = BoolGetDatum(v.val.boolean);
			return;
		default:
			break;
	}
	if (rf_jv_is_object(&v))
	{
		char	  **keys;
		JsonbValue *vals;
		int			n = rf_object_pairs(v.val.binary.data, &keys, &vals);

		if (n == 1 && strcmp(keys[0], "$timestamp") == 0)
		{
			char	   *where_ts = psprintf("%s.$timestamp", where);
			JsonbValue	ts;
			const char *param;
			char	   *text;

			if (!rf_resolve(p, &vals[0], &ts, &param))
			{
				out->param = param;
				out->kind = RF_VALUE_TIMESTAMP;
				return;
			}
			if (ts.type != jbvString)
				rf_spec_fail(where_ts, "Write a timestamp as {\"$timestamp\": \"2026-01-01T00:00:00Z\"}.",
							 "expected a timestamp string, got %s", rf_json_type_phrase(&ts));
			text = rf_jv_cstring(&ts);
			PG_TRY();
			{
				out->datum = DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			}
			PG_CATCH();
			{
				FlushErrorState();
				rf_spec_fail(where_ts, "Write a timestamp in ISO 8601 with its offset: 2026-01-01T00:00:00Z.",
							 "invalid timestamp %s", rf_quote_arg(text, 64));
			}
			PG_END_TRY();
			out->kind = RF_VALUE_TIMESTAMP;
			if (param != NULL)
				out->param = param;
			return;
		}
	}
	rf_spec_fail(where, "A value is a string, a number, a boolean, null or {\"$timestamp\": \"...\"}.",
				 "expected a string, number, boolean, null or timestamp value, got %s",
				 rf_json_type_phrase(&v));
}

static RfNode *rf_parse_node(RfParser *p, const JsonbValue *v, const char *where, int depth);

/* [path, value] for eq ne gt gte lt lte like ilike in nin contains. */
static void
rf_parse_pair(const JsonbValue *v, const char *where, const char *shape, JsonbValue *path, JsonbValue *value)
{
	JsonbValue *elems;

	if (!rf_jv_is_array(v) || rf_array_elems(v->val.binary.data, &elems) != 2)
		rf_spec_fail(where, NULL, "expected %s, got %s", shape,
					 rf_jv_is_array(v) ? psprintf("an array of %d elements", JsonContainerSize(v->val.binary.data))
					 : rf_json_type_phrase(v));
	*path = elems[0];
	*value = elems[1];
}

static RfNode *
rf_parse_comparison(RfParser *p, RfNode *node, const JsonbValue *arg, const char *where)
{
	JsonbValue	path;
	JsonbValue	value;

	rf_parse_pair(arg, where, "[path, value]", &path, &value);
	rf_parse_path(&path, psprintf("%s[0]", where), &node->path, true);
	rf_parse_scalar(p, &value, psprintf("%s[1]", where), &node->value);
	if (node->value.param != NULL && p->params->mode == RF_PARAMS_COLLECT)
		return node;
	if (node->value.kind == RF_VALUE_NULL && node->op != RF_OP_EQ && node->op != RF_OP_NE)
		rf_spec_fail(psprintf("%s[1]", where), "Use eq/ne with null, or exists, to test for a missing value.",
					 "null cannot be compared with this operator");
	if ((node->op == RF_OP_LIKE || node->op == RF_OP_ILIKE) && node->value.kind != RF_VALUE_STRING)
		rf_spec_fail(psprintf("%s[1]", where), "like and ilike take a pattern string (% and _ are wildcards).",
					 "expected a pattern string");
	if ((node->op == RF_OP_LIKE || node->op == RF_OP_ILIKE) && node->path.column != NULL)
		rf_spec_fail(psprintf("%s[0]", where), NULL, "like and ilike apply to document paths, not %s",
					 node->path.text);
	return node;
}

static RfNode *
rf_parse_in(RfParser *p, RfNode *node, const JsonbValue *arg, const char *where)
{
	JsonbValue	path;
	JsonbValue	list;
	JsonbValue	resolved;
	JsonbValue *elems;
	const char *param;
	int			n;
	char	   *where_list = psprintf("%s[1]", where);

	rf_parse_pair(arg, where, "[path, [values...]]", &path, &list);
	rf_parse_path(&path, psprintf("%s[0]", where), &node->path, true);
	node->in_kind = RF_VALUE_STRING;
	if (!rf_resolve(p, &list, &resolved, &param))
	{
		node->value.param = param;
		return node;
	}
	if (!rf_jv_is_array(&resolved))
		rf_spec_fail(where_list, NULL, "expected an array of values, got %s%s", rf_json_type_phrase(&resolved),
					 param ? psprintf(" (from parameter $%s)", param) : "");
	n = rf_array_elems(resolved.val.binary.data, &elems);
	if (n > RF_MAX_IN_VALUES)
		rf_spec_fail(where_list, NULL, "expected at most %d values, got %d", RF_MAX_IN_VALUES, n);
	for (int i = 0; i < n; i++)
	{
		RfValue    *val = palloc(sizeof(RfValue));
		char	   *where_elem = psprintf("%s[%d]", where_list, i);

		/* elements are values, not parameter references */
		RfParser	plain = {NULL, 0};

		rf_parse_scalar(&plain, &elems[i], where_elem, val);
		if (val->kind == RF_VALUE_NULL)
			rf_spec_fail(where_elem, "Combine with {\"eq\": [path, null]} in an or to match null.",
						 "null is not allowed in %s", node->op == RF_OP_IN ? "in" : "nin");
		if (i == 0)
			node->in_kind = val->kind;
		else if (val->kind != node->in_kind)
			rf_spec_fail(where_elem, "Every value of in/nin must have the same JSON type.",
						 "expected %s like the first value, got another type",
						 node->in_kind == RF_VALUE_STRING ? "a string" :
						 node->in_kind == RF_VALUE_NUMBER ? "a number" :
						 node->in_kind == RF_VALUE_BOOL ? "a boolean" : "a timestamp");
		node->in_values = lappend(node->in_values, val);
	}
	return node;
}

static RfNode *
rf_parse_contains(RfParser *p, RfNode *node, const JsonbValue *arg, const char *where)
{
	JsonbValue	path;
	JsonbValue	value;
	JsonbValue	resolved;

	rf_parse_pair(arg, where, "[path, value]", &path, &value);
	rf_parse_path(&path, psprintf("%s[0]", where), &node->path, false);
	node->value.kind = RF_VALUE_JSON;
	if (!rf_resolve(p, &value, &resolved, &node->value.param))
		return node;
	node->value.datum = JsonbPGetDatum(JsonbValueToJsonb(&resolved));
	return node;
}

static RfNode *
rf_parse_bool_list(RfParser *p, RfNode *node, const JsonbValue *arg, const char *where, int depth)
{
	JsonbValue *elems;
	int			n;

	if (!rf_jv_is_array(arg))
		rf_spec_fail(where, NULL, "expected an array of predicates, got %s", rf_json_type_phrase(arg));
	n = rf_array_elems(arg->val.binary.data, &elems);
	if (n == 0)
		rf_spec_fail(where, NULL, "expected at least one predicate");
	for (int i = 0; i < n; i++)
		node->children = lappend(node->children,
								 rf_parse_node(p, &elems[i], psprintf("%s[%d]", where, i), depth + 1));
	return node;
}

/* One predicate: an object with exactly one operator key. */
static RfNode *
rf_parse_node(RfParser *p, const JsonbValue *v, const char *where, int depth)
{
	static const struct
	{
		const char *name;
		RfNodeType	type;
		RfCmpOp		op;
	}			ops[] =
	{
		{"eq", RF_NODE_CMP, RF_OP_EQ}, {"ne", RF_NODE_CMP, RF_OP_NE},
		{"gt", RF_NODE_CMP, RF_OP_GT}, {"gte", RF_NODE_CMP, RF_OP_GTE},
		{"lt", RF_NODE_CMP, RF_OP_LT}, {"lte", RF_NODE_CMP, RF_OP_LTE},
		{"like", RF_NODE_CMP, RF_OP_LIKE}, {"ilike", RF_NODE_CMP, RF_OP_ILIKE},
		{"in", RF_NODE_IN, RF_OP_IN}, {"nin", RF_NODE_IN, RF_OP_NIN},
		{"contains", RF_NODE_CONTAINS, RF_OP_EQ}, {"exists", RF_NODE_EXISTS, RF_OP_EQ},
		{"and", RF_NODE_AND, RF_OP_EQ}, {"or", RF_NODE_OR, RF_OP_EQ}, {"not", RF_NODE_NOT, RF_OP_EQ},
	};
	char	  **keys;
	JsonbValue *vals;
	RfNode	   *node;
	char	   *where_op;
	int			n;

	check_stack_depth();
	if (depth > RF_MAX_FILTER_DEPTH)
		rf_spec_fail(where, NULL, "predicates are nested more than %d deep", RF_MAX_FILTER_DEPTH);
	if (++p->nodes > RF_MAX_FILTER_NODES)
		rf_spec_fail(where, NULL, "the filter has more than %d predicates", RF_MAX_FILTER_NODES);
	if (!rf_jv_is_object(v))
		rf_spec_fail(where, RF_OPERATORS_HINT, "expected a predicate object like {\"eq\": [path, value]}, got %s",
					 rf_json_type_phrase(v));
	n = rf_object_pairs(v->val.binary.data, &keys, &vals);
	if (n != 1)
		rf_spec_fail(where, "Combine predicates with {\"and\": [...]}.",
					 "expected an object with exactly one operator, got %d keys", n);

	node = palloc0(sizeof(RfNode));
	where_op = psprintf("%s.%s", where, keys[0]);
	node->where = where_op;
	for (int i = 0; i < lengthof(ops); i++)
	{
		if (strcmp(keys[0], ops[i].name) != 0)
			continue;
		node->type = ops[i].type;
		node->op = ops[i].op;
		switch (node->type)
		{
			case RF_NODE_CMP:
				return rf_parse_comparison(p, node, &vals[0], where_op);
			case RF_NODE_IN:
				return rf_parse_in(p, node, &vals[0], where_op);
			case RF_NODE_CONTAINS:
				return rf_parse_contains(p, node, &vals[0], where_op);
			case RF_NODE_EXISTS:
				rf_parse_path(&vals[0], where_op, &node->path, false);
				return node;
			case RF_NODE_AND:
			case RF_NODE_OR:
				return rf_parse_bool_list(p, node, &vals[0], where_op, depth);
			case RF_NODE_NOT:
				node->children = list_make1(rf_parse_node(p, &vals[0], where_op, depth + 1));
				return node;
		}
	}
	rf_spec_fail(where, RF_OPERATORS_HINT, "unknown operator %s", rf_quote_arg(keys[0], 64));
}

/*
 * A query's whole filter: {} means every document (NULL, as when there is
 * no filter); anything else is one predicate. Only the top level may be
 * empty: an empty object inside and/or/not still names no operator.
 */
static RfNode *
rf_parse_top_filter(RfParser *p, const JsonbValue *v)
{
	if (rf_jv_is_object(v) && JsonContainerSize(v->val.binary.data) == 0)
		return NULL;
	return rf_parse_node(p, v, "filter", 0);
}

/* A non-negative integer (limit, offset, page, page_size), maybe a parameter. */
static bool
rf_parse_count(RfParser *p, const JsonbValue *in, const char *where, int64 min, int64 *out)
{
	JsonbValue	v;
	const char *param;
	bool		ok = false;

	if (!rf_resolve(p, in, &v, &param))
		return false;
	if (v.type == jbvNumeric)
	{
		Datum		d = NumericGetDatum(v.val.numeric);
		Datum		whole = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));

		if (DatumGetBool(DirectFunctionCall2(numeric_eq, d, whole)) &&
			DatumGetBool(DirectFunctionCall2(numeric_ge, d, DirectFunctionCall1(int8_numeric, Int64GetDatum(min)))) &&
			DatumGetBool(DirectFunctionCall2(numeric_le, d, DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))))
		{
			*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
			ok = true;
		}
	}
	if (!ok)
		rf_spec_fail(where, NULL, "expected an integer of at least " INT64_FORMAT ", got %s%s", min,
					 v.type == jbvNumeric ? numeric_normalize(v.val.numeric) : rf_json_type_phrase(&v),
					 param ? psprintf(" (from parameter $%s)", param) : "");
	return true;
}

static RfOrder *
rf_parse_order_entry(const JsonbValue *v, const char *where)
{
	RfOrder    *order = palloc0(sizeof(RfOrder));
	char	  **keys;
	JsonbValue *vals;
	int			n;
	bool		have_path = false;

	order->where = where;
	order->as = RF_VALUE_JSON;
	if (v->type == jbvString)
	{
		rf_parse_path(v, where, &order->path, true);
		return order;
	}
	if (!rf_jv_is_object(v))
		rf_spec_fail(where, NULL, "expected a path or {\"path\": ..., \"direction\": ..., \"nulls\": ...}, got %s",
					 rf_json_type_phrase(v));
	n = rf_object_pairs(v->val.binary.data, &keys, &vals);
	for (int i = 0; i < n; i++)
	{
		char	   *where_key = psprintf("%s.%s", where, keys[i]);
		char	   *s = vals[i].type == jbvString ? rf_jv_cstring(&vals[i]) : NULL;

		if (strcmp(keys[i], "path") == 0)
		{
			rf_parse_path(&vals[i], where_key, &order->path, true);
			have_path = true;
		}
		else if (strcmp(keys[i], "direction") == 0)
		{
			if (s == NULL || (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0))
				rf_spec_fail(where_key, NULL, "expected \"asc\" or \"desc\"");
			order->descending = strcmp(s, "desc") == 0;
		}
		else if (strcmp(keys[i], "nulls") == 0)
		{
			if (s == NULL || (strcmp(s, "first") != 0 && strcmp(s, "last") != 0))
				rf_spec_fail(where_key, NULL, "expected \"first\" or \"last\"");
			order->nulls = strcmp(s, "first") == 0 ? 1 : 2;
		}
		else if (strcmp(keys[i], "type") == 0)
		{
			if (s != NULL && strcmp(s, "text") == 0)
				order->as = RF_VALUE_STRING;
			else if (s != NULL && strcmp(s, "number") == 0)
				order->as = RF_VALUE_NUMBER;
			else if (s != NULL && strcmp(s, "boolean") == 0)
				order->as = RF_VALUE_BOOL;
			else if (s != NULL && strcmp(s, "timestamp") == 0)
				order->as = RF_VALUE_TIMESTAMP;
			else
				rf_spec_fail(where_key, "Leave type out to sort by jsonb order.",
							 "expected \"text\", \"number\", \"boolean\" or \"timestamp\"");
		}
		else
			rf_spec_fail(where, "An order_by entry has path, direction, nulls and type.",
						 "unknown key %s", rf_quote_arg(keys[i], 64));
	}
	if (!have_path)
		rf_spec_fail(where, NULL, "missing \"path\"");
	return order;
}

static List *
rf_parse_order_by(const JsonbValue *v)
{
	List	   *result = NIL;
	JsonbValue *elems;
	int			n;

	if (!rf_jv_is_array(v))
		return list_make1(rf_parse_order_entry(v, "order_by"));
	n = rf_array_elems(v->val.binary.data, &elems);
	if (n > 32)
		rf_spec_fail("order_by", NULL, "expected at most 32 sort keys, got %d", n);
	for (int i = 0; i < n; i++)
		result = lappend(result, rf_parse_order_entry(&elems[i], psprintf("order_by[%d]", i)));
	return result;
}

static List *
rf_parse_select(const JsonbValue *v)
{
	List	   *result = NIL;
	char	  **keys;
	JsonbValue *vals;
	int			n;

	if (!rf_jv_is_object(v))
		rf_spec_fail("select", "Write select as {\"output_field\": \"path\", ...}.",
					 "expected an object, got %s", rf_json_type_phrase(v));
	n = rf_object_pairs(v->val.binary.data, &keys, &vals);
	if (n == 0 || n > RF_MAX_SELECT_FIELDS)
		rf_spec_fail("select", "Leave select out to return whole documents.",
					 "expected 1 to %d fields, got %d", RF_MAX_SELECT_FIELDS, n);
	for (int i = 0; i < n; i++)
	{
		RfSelect   *sel = palloc0(sizeof(RfSelect));

		sel->field = keys[i];
		if (vals[i].type == jbvString && strcmp(rf_jv_cstring(&vals[i]), "$data") == 0)
		{
			sel->path.text = "$data";
			sel->path.column = "data";
		}
		else
			rf_parse_path(&vals[i], psprintf("select.%s", keys[i]), &sel->path, true);
		result = lappend(result, sel);
	}
	return result;
}

/*
 * Parse and check a whole query spec. params says how "$name" values are
 * read (NULL: as plain strings).
 */
RfQuery *
rf_parse_query(Jsonb *spec, RfParams *params)
{
	RfParser	p = {params, 0};
	RfQuery    *q = palloc0(sizeof(RfQuery));
	JsonbValue	root;
	char	  **keys;
	JsonbValue *vals;
	int			n;
	bool		have_limit = false,
				have_offset = false,
				have_page = false,
				have_page_size = false;
	int64		limit = 0,
				offset = 0,
				page = 1,
				page_size = 0;

	root.type = jbvBinary;
	root.val.binary.data = &spec->root;
	root.val.binary.len = VARSIZE(spec) - VARHDRSZ;
	if (!rf_jv_is_object(&root))
		rf_spec_fail("query", "A query is an object: {\"filter\": ..., \"order_by\": ..., \"limit\": ...}.",
					 "expected an object, got %s",
					 JsonContainerIsScalar(&spec->root) ? "a scalar" : "an array");
	n = rf_object_pairs(&spec->root, &keys, &vals);
	for (int i = 0; i < n; i++)
	{
		const char *k = keys[i];
		JsonbValue *v = &vals[i];

		if (strcmp(k, "filter") == 0)
			q->filter = rf_parse_top_filter(&p, v);
		else if (strcmp(k, "order_by") == 0)
			q->order_by = rf_parse_order_by(v);
		else if (strcmp(k, "select") == 0)
			q->select = rf_parse_select(v);
		else if (strcmp(k, "include_deleted") == 0)
		{
			if (v->type != jbvBool)
				rf_spec_fail("include_deleted", NULL, "expected true or false, got %s", rf_json_type_phrase(v));
			q->include_deleted = v->val.boolean;
		}
		else if (strcmp(k, "limit") == 0)
			have_limit = rf_parse_count(&p, v, "limit", 0, &limit) || true;
		else if (strcmp(k, "offset") == 0)
			have_offset = rf_parse_count(&p, v, "offset", 0, &offset) || true;
		else if (strcmp(k, "page") == 0)
			have_page = rf_parse_count(&p, v, "page", 1, &page) || true;
		else if (strcmp(k, "page_size") == 0)
			have_page_size = rf_parse_count(&p, v, "page_size", 1, &page_size) || true;
		else
			rf_spec_fail("query", "The keys of a query are filter, order_by, limit, offset, page, page_size, "
						 "select and include_deleted.",
						 "unknown key %s", rf_quote_arg(k, 64));
	}
	if ((have_page || have_page_size) && (have_limit || have_offset))
		rf_spec_fail("query", "Use limit/offset or page/page_size.",
					 "page/page_size cannot be combined with limit/offset");
	if (have_page && !have_page_size)
		rf_spec_fail("page", NULL, "page needs page_size");
	if (have_page_size)
	{
		if (page - 1 > PG_INT64_MAX / page_size)
			rf_spec_fail("page", NULL, "page * page_size is too large");
		q->has_limit = true;
		q->limit = page_size;
		q->offset = (page - 1) * page_size;
	}
	else
	{
		q->has_limit = have_limit;
		q->limit = limit;
		q->offset = offset;
	}
	return q;
}

/* doc_count's filter: one predicate, or {} for every document. */
RfNode *
rf_parse_filter_only(Jsonb *filter)
{
	RfParser	p = {NULL, 0};
	JsonbValue	root;

	root.type = jbvBinary;
	root.val.binary.data = &filter->root;
	root.val.binary.len = VARSIZE(filter) - VARHDRSZ;
	if (JsonContainerIsScalar(&filter->root))
		rf_spec_fail("filter", RF_OPERATORS_HINT, "expected a predicate object like {\"eq\": [path, value]}, got a scalar");
	return rf_parse_top_filter(&p, &root);
}

/*
 * run_query: the params object must give exactly the parameters the spec
 * uses (params->seen, from a collecting parse). Names every missing and
 * every extra one.
 */
void
rf_check_params(RfParams *params)
{
	StringInfoData missing;
	StringInfoData extra;
	JsonbValue	root;
	char	  **keys;
	JsonbValue *vals;
	int			n;
	ListCell   *lc;

	root.type = jbvBinary;
	root.val.binary.data = &params->values->root;
	if (!rf_jv_is_object(&root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object")));
	initStringInfo(&missing);
	initStringInfo(&extra);
	n = rf_object_pairs(&params->values->root, &keys, &vals);
	foreach(lc, params->seen)
	{
		bool		found = false;

		for (int i = 0; i < n && !found; i++)
			found = strcmp(keys[i], strVal(lfirst(lc))) == 0;
		if (!found)
			appendStringInfo(&missing, "%s%s", missing.len ? ", " : "", strVal(lfirst(lc)));
	}
	for (int i = 0; i < n; i++)
	{
		bool		found = false;

		foreach(lc, params->seen)
			found = found || strcmp(keys[i], strVal(lfirst(lc))) == 0;
		if (!found)
			appendStringInfo(&extra, "%s%s", extra.len ? ", " : "", keys[i]);
	}
	if (missing.len > 0 || extra.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 missing.len > 0 && extra.len > 0
				 ? errmsg("params: missing %s; unexpected %s", missing.data, extra.data)
				 : missing.len > 0 ? errmsg("params: missing %s", missing.data)
				 : errmsg("params: unexpected %s", extra.data),
				 errhint("Give exactly the parameters the query uses (\"$name\" in its spec), without the $.")));
}
