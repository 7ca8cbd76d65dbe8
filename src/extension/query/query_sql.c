/*-------------------------------------------------------------------------
 *
 * query_sql.c
 *	  Turn a checked query spec into one SQL statement with bound values.
 *
 *	  Values are always arguments ($1, $2...), never text in the statement.
 *	  Paths have passed rf_parse_doc_path (letters, digits, _ only) and are
 *	  still emitted as quoted literals; columns come from the catalog and are
 *	  quoted. Operators are spelled OPERATOR(pg_catalog.x), functions and
 *	  types are schema-qualified, so the caller's search_path changes nothing.
 *
 *	  The expressions are chosen to be the ones people index by hand (see
 *	  docs/document-queries.md, "Indexes"):
 *	    string value:  data->'a'->>'b' <op> $n       btree ((data->'a'->>'b'))
 *	    number value:  (data->'a'->'b')::numeric <op> $n
 *	                                                  btree (((data->'a'->'b')::numeric))
 *	    contains:      data @> $n (the value nested under the path)
 *	                                                  GIN (data jsonb_path_ops)
 *	  each beside a jsonb_typeof() test, so a document whose value has
 *	  another JSON type does not match (and is never cast). A path with a
 *	  duplicated field compares the column itself with the value converted
 *	  (and transformed) in C to the column's type: a plain "col <op> $n" and
 *	  "ORDER BY col" that the column's btree serves, with nothing per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "query/query.h"

typedef struct RfBuild
{
	StringInfoData sql;
	const RfQueryCollection *coll;
	RfArgs	   *args;
} RfBuild;

static const char *const rf_op_sql[] = {
	[RF_OP_EQ] = "OPERATOR(pg_catalog.=)",
	[RF_OP_NE] = "OPERATOR(pg_catalog.<>)",
	[RF_OP_GT] = "OPERATOR(pg_catalog.>)",
	[RF_OP_GTE] = "OPERATOR(pg_catalog.>=)",
	[RF_OP_LT] = "OPERATOR(pg_catalog.<)",
	[RF_OP_LTE] = "OPERATOR(pg_catalog.<=)",
	[RF_OP_LIKE] = "OPERATOR(pg_catalog.~~)",
	[RF_OP_ILIKE] = "OPERATOR(pg_catalog.~~*)",
	[RF_OP_IN] = "OPERATOR(pg_catalog.=)",
	[RF_OP_NIN] = "OPERATOR(pg_catalog.=)",
};

/* Add an argument; returns its number. */
static int
rf_arg(RfArgs *a, Oid type, Datum value, bool isnull)
{
	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 16;
		a->types = a->types ? repalloc(a->types, sizeof(Oid) * a->cap) : palloc(sizeof(Oid) * a->cap);
		a->values = a->values ? repalloc(a->values, sizeof(Datum) * a->cap) : palloc(sizeof(Datum) * a->cap);
		a->nulls = a->nulls ? repalloc(a->nulls, a->cap + 1) : palloc(a->cap + 1);
	}
	a->types[a->n] = type;
	a->values[a->n] = value;
	a->nulls[a->n] = isnull ? 'n' : ' ';
	a->nulls[a->n + 1] = '\0';
	return ++a->n;
}

/* data->'a'->'b' (jsonb), or data->'a'->>'b' (text) when as_text. */
static void
rf_emit_path(StringInfo s, const RfDocPath *p, bool as_text)
{
	appendStringInfoString(s, "data");
	for (int i = 0; i < p->nparts; i++)
	{
		bool		last_text = as_text && i == p->nparts - 1;

		appendStringInfoString(s, last_text ? " OPERATOR(pg_catalog.->>) " : " OPERATOR(pg_catalog.->) ");
		if (p->is_index[i])
			appendStringInfoString(s, p->parts[i]);	/* digits only */
		else
			appendStringInfoString(s, quote_literal_cstr(p->parts[i]));
	}
}

/*
 * The expression a value of this kind is compared with: the text of the
 * path for strings, the path's jsonb for numbers and booleans (jsonb orders
 * numbers numerically and never fails on another type, where a cast to
 * numeric would), a timestamptz cast of the text for timestamps.
 */
static void
rf_emit_typed(StringInfo s, const RfDocPath *p, RfValueKind kind)
{
	switch (kind)
	{
		case RF_VALUE_STRING:
			rf_emit_path(s, p, true);
			return;
		case RF_VALUE_TIMESTAMP:
			appendStringInfoChar(s, '(');
			rf_emit_path(s, p, true);
			appendStringInfoString(s, ")::pg_catalog.timestamptz");
			return;
		default:
			rf_emit_path(s, p, false);
			return;
	}
}

/* A value as the argument type rf_emit_typed's expression compares with. */
static Datum
rf_path_arg(const RfValue *v, Oid *type)
{
	JsonbValue	jv;

	switch (v->kind)
	{
		case RF_VALUE_STRING:
			*type = TEXTOID;
			return v->datum;
		case RF_VALUE_TIMESTAMP:
			*type = TIMESTAMPTZOID;
			return v->datum;
		case RF_VALUE_NUMBER:
			jv.type = jbvNumeric;
			jv.val.numeric = DatumGetNumeric(v->datum);
			break;
		case RF_VALUE_BOOL:
			jv.type = jbvBool;
			jv.val.boolean = DatumGetBool(v->datum);
			break;
		default:
			*type = JSONBOID;
			return v->datum;
	}
	*type = JSONBOID;
	return JsonbPGetDatum(JsonbValueToJsonb(&jv));
}

/* jsonb_typeof(path) = '<type>': the guard in front of a typed comparison. */
static void
rf_emit_guard(StringInfo s, const RfDocPath *p, RfValueKind kind)
{
	appendStringInfoString(s, "pg_catalog.jsonb_typeof(");
	rf_emit_path(s, p, false);
	appendStringInfo(s, ") OPERATOR(pg_catalog.=) '%s' AND ",
					 kind == RF_VALUE_NUMBER ? "number" : kind == RF_VALUE_BOOL ? "boolean" : "string");
}

static Oid
rf_kind_type(RfValueKind kind)
{
	switch (kind)
	{
		case RF_VALUE_STRING:
			return TEXTOID;
		case RF_VALUE_NUMBER:
			return NUMERICOID;
		case RF_VALUE_BOOL:
			return BOOLOID;
		case RF_VALUE_TIMESTAMP:
			return TIMESTAMPTZOID;
		default:
			return JSONBOID;
	}
}

static const RfDupField *
rf_find_field(const RfQueryCollection *coll, const RfPath *path)
{
	if (path->column != NULL)
		return NULL;
	for (int i = 0; i < coll->nfields; i++)
		if (strcmp(coll->fields[i].path, path->text) == 0)
			return &coll->fields[i];
	return NULL;
}

static bool
rf_is_int_type(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

/* Does a value of this JSON type compare with a column of this type? */
static bool
rf_kind_fits_column(RfValueKind kind, Oid typid)
{
	switch (kind)
	{
		case RF_VALUE_STRING:
			return typid == TEXTOID || typid == VARCHAROID || typid == UUIDOID;
		case RF_VALUE_NUMBER:
			return rf_is_int_type(typid) || typid == NUMERICOID || typid == FLOAT8OID;
		case RF_VALUE_BOOL:
			return typid == BOOLOID;
		case RF_VALUE_TIMESTAMP:
			return typid == TIMESTAMPTZOID;
		default:
			return false;
	}
}

/*
 * A JSON number as an integer column's type. Range predicates round toward
 * the same answer (gt 5.5 is gt 5, gte 5.5 is gte 6); equality with a
 * non-integer, or a value outside the type's range, cannot use the column
 * (returns false, and the caller reads the document instead).
 */
static bool
rf_number_to_int(Datum num, RfCmpOp op, Oid typid, Datum *out)
{
	Datum		whole;
	int64		v;
	int64		min = typid == INT2OID ? PG_INT16_MIN : typid == INT4OID ? PG_INT32_MIN : PG_INT64_MIN;
	int64		max = typid == INT2OID ? PG_INT16_MAX : typid == INT4OID ? PG_INT32_MAX : PG_INT64_MAX;

	if (numeric_is_nan(DatumGetNumeric(num)) || numeric_is_inf(DatumGetNumeric(num)))
		return false;
	if (op == RF_OP_GT || op == RF_OP_LTE)
		whole = DirectFunctionCall1(numeric_floor, num);
	else if (op == RF_OP_GTE || op == RF_OP_LT)
		whole = DirectFunctionCall1(numeric_ceil, num);
	else
	{
		whole = DirectFunctionCall1(numeric_floor, num);
		if (!DatumGetBool(DirectFunctionCall2(numeric_eq, num, whole)))
			return false;
	}
	if (DatumGetBool(DirectFunctionCall2(numeric_lt, whole,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(min)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, whole,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(max)))))
		return false;
	v = DatumGetInt64(DirectFunctionCall1(numeric_int8, whole));
	*out = typid == INT2OID ? Int16GetDatum((int16) v) : typid == INT4OID ? Int32GetDatum((int32) v)
		: Int64GetDatum(v);
	return true;
}

/* A string as a uuid, or false when it is not one. */
static bool
rf_string_to_uuid(Datum string, Datum *out)
{
	MemoryContext old = CurrentMemoryContext;
	bool		ok = true;

	PG_TRY();
	{
		*out = DirectFunctionCall1(uuid_in, CStringGetDatum(TextDatumGetCString(string)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * A query value as a column's type (applying a duplicated field's
 * transform). False when the value cannot be compared with the column:
 * another JSON type, or a value the column can never hold.
 */
static bool
rf_value_for_column(Oid typid, const RfDupField *f, const RfValue *v, RfCmpOp op, Datum *out)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
			if (v->kind != RF_VALUE_STRING)
				return false;
			*out = v->datum;
			if (f != NULL)
				*out = rf_apply_transforms(f->ntransforms, f->transforms, *out);
			return true;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return v->kind == RF_VALUE_NUMBER && rf_number_to_int(v->datum, op, typid, out);
		case NUMERICOID:
			*out = v->datum;
			return v->kind == RF_VALUE_NUMBER;
		case FLOAT8OID:
			if (v->kind != RF_VALUE_NUMBER)
				return false;
			*out = DirectFunctionCall1(numeric_float8, v->datum);
			return true;
		case BOOLOID:
			*out = v->datum;
			return v->kind == RF_VALUE_BOOL;
		case TIMESTAMPTZOID:
			*out = v->datum;
			return v->kind == RF_VALUE_TIMESTAMP;
		case UUIDOID:
			return v->kind == RF_VALUE_STRING && rf_string_to_uuid(v->datum, out);
		default:
			return false;
	}
}

/* The column of a pseudo-path, and its type. */
static Oid
rf_pseudo_type(const char *column)
{
	if (strcmp(column, "id") == 0)
		return UUIDOID;
	if (strcmp(column, "version") == 0)
		return INT8OID;
	if (strcmp(column, "data") == 0)
		return JSONBOID;
	return TIMESTAMPTZOID;
}

static void
rf_pseudo_mismatch(const RfNode *n, Oid typid) pg_attribute_noreturn();

static void
rf_pseudo_mismatch(const RfNode *n, Oid typid)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s[1]: %s compares with %s", n->where, n->path.text,
					typid == UUIDOID ? "a uuid string" : typid == INT8OID ? "an integer"
					: "a timestamp ({\"$timestamp\": \"...\"})")));
}

static void rf_emit_node(RfBuild *b, const RfNode *n);

/* eq, gt, like... (never ne: that is emitted as not eq). */
static void
rf_emit_comparison(RfBuild *b, const RfNode *n, RfCmpOp op)
{
	StringInfo	s = &b->sql;
	const RfDupField *f = rf_find_field(b->coll, &n->path);
	Datum		d;
	Oid			typid;

	if (n->path.column != NULL)
	{
		typid = rf_pseudo_type(n->path.column);

		if (n->value.kind == RF_VALUE_NULL)
		{
			appendStringInfo(s, "%s IS NULL", n->path.column);
			return;
		}
		if (!rf_value_for_column(typid, NULL, &n->value, op, &d))
			rf_pseudo_mismatch(n, typid);
		appendStringInfo(s, "%s %s $%d", n->path.column, rf_op_sql[op], rf_arg(b->args, typid, d, false));
		return;
	}
	if (f != NULL && n->value.kind == RF_VALUE_NULL)
	{
		appendStringInfo(s, "%s IS NULL", f->column);
		return;
	}
	if (f != NULL && rf_value_for_column(f->typid, f, &n->value, op, &d))
	{
		appendStringInfo(s, "%s %s $%d", f->column, rf_op_sql[op],
						 rf_arg(b->args, f->typid == VARCHAROID ? TEXTOID : f->typid, d, false));
		return;
	}
	if (n->value.kind == RF_VALUE_NULL)
	{
		appendStringInfoString(s, "(");
		rf_emit_path(s, &n->path.doc, false);
		appendStringInfoString(s, " IS NULL OR ");
		rf_emit_path(s, &n->path.doc, false);
		appendStringInfoString(s, " OPERATOR(pg_catalog.=) 'null'::pg_catalog.jsonb)");
		return;
	}
	d = rf_path_arg(&n->value, &typid);
	appendStringInfoChar(s, '(');
	rf_emit_guard(s, &n->path.doc, n->value.kind);
	rf_emit_typed(s, &n->path.doc, n->value.kind);
	appendStringInfo(s, " %s $%d)", rf_op_sql[op], rf_arg(b->args, typid, d, false));
}

/* path = ANY($n) for in (nin is not in). */
static void
rf_emit_in(RfBuild *b, const RfNode *n)
{
	StringInfo	s = &b->sql;
	const RfDupField *f = rf_find_field(b->coll, &n->path);
	int			count = list_length(n->in_values);
	Datum	   *elems = palloc(sizeof(Datum) * Max(count, 1));
	int			nelems = 0;
	Oid			typid;
	ListCell   *lc;
	bool		use_column = n->path.column != NULL || f != NULL;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (count == 0)
	{
		appendStringInfoString(s, "false");
		return;
	}
	typid = n->path.column ? rf_pseudo_type(n->path.column) : f ? f->typid : rf_kind_type(n->in_kind);
	/* a duplicated field whose type does not fit the values: read the document */
	if (f != NULL && !rf_kind_fits_column(n->in_kind, typid))
		use_column = false;
	if (use_column)
	{
		/* every value converted; values the column can never hold are dropped */
		foreach(lc, n->in_values)
		{
			if (rf_value_for_column(typid, f, lfirst(lc), RF_OP_IN, &elems[nelems]))
				nelems++;
			else if (n->path.column != NULL)
				rf_pseudo_mismatch(n, typid);
		}
	}
	if (use_column)
	{
		if (typid == VARCHAROID)
			typid = TEXTOID;
		get_typlenbyvalalign(typid, &typlen, &typbyval, &typalign);
		appendStringInfo(s, "%s OPERATOR(pg_catalog.=) ANY ($%d)",
						 n->path.column ? n->path.column : f->column,
						 rf_arg(b->args, get_array_type(typid),
								PointerGetDatum(construct_array(elems, nelems, typid, typlen, typbyval, typalign)),
								false));
		return;
	}
	nelems = 0;
	foreach(lc, n->in_values)
		elems[nelems++] = rf_path_arg(lfirst(lc), &typid);
	get_typlenbyvalalign(typid, &typlen, &typbyval, &typalign);
	appendStringInfoChar(s, '(');
	rf_emit_guard(s, &n->path.doc, n->in_kind);
	rf_emit_typed(s, &n->path.doc, n->in_kind);
	appendStringInfo(s, " OPERATOR(pg_catalog.=) ANY ($%d))",
					 rf_arg(b->args, get_array_type(typid),
							PointerGetDatum(construct_array(elems, nelems, typid, typlen, typbyval, typalign)),
							false));
}

/* data @> {"a": {"b": value}}: the form a GIN index on data serves. */
static void
rf_emit_contains(RfBuild *b, const RfNode *n)
{
	StringInfo	s = &b->sql;
	const RfDocPath *p = &n->path.doc;
	bool		has_index = false;
	Jsonb	   *value = DatumGetJsonbP(n->value.datum);
	char	   *json = JsonbToCString(NULL, &value->root, VARSIZE(value));
	Datum		nested;

	for (int i = 0; i < p->nparts; i++)
		has_index = has_index || p->is_index[i];
	if (has_index)
	{
		appendStringInfoChar(s, '(');
		rf_emit_path(s, p, false);
		appendStringInfo(s, " OPERATOR(pg_catalog.@>) $%d)", rf_arg(b->args, JSONBOID, n->value.datum, false));
		return;
	}
	for (int i = p->nparts - 1; i >= 0; i--)
		json = psprintf("{\"%s\": %s}", p->parts[i], json);	/* parts need no escaping */
	nested = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
	appendStringInfo(s, "data OPERATOR(pg_catalog.@>) $%d", rf_arg(b->args, JSONBOID, nested, false));
}

static void
rf_emit_exists(RfBuild *b, const RfNode *n)
{
	StringInfo	s = &b->sql;
	const RfDocPath *p = &n->path.doc;

	/* data ? 'key' for a top-level key: a GIN jsonb_ops index serves it */
	if (p->nparts == 1 && !p->is_index[0])
	{
		appendStringInfo(s, "data OPERATOR(pg_catalog.?) %s", quote_literal_cstr(p->parts[0]));
		return;
	}
	appendStringInfoChar(s, '(');
	rf_emit_path(s, p, false);
	appendStringInfoString(s, " IS NOT NULL)");
}

/*
 * A predicate. Every predicate is true or false, never unknown: a missing
 * path or a value of another type is false, and not/ne/nin are emitted as
 * NOT COALESCE(..., false), so "not" is the exact complement.
 */
static void
rf_emit_node(RfBuild *b, const RfNode *n)
{
	StringInfo	s = &b->sql;
	ListCell   *lc;

	switch (n->type)
	{
		case RF_NODE_AND:
		case RF_NODE_OR:
			appendStringInfoChar(s, '(');
			foreach(lc, n->children)
			{
				if (lc != list_head(n->children))
					appendStringInfoString(s, n->type == RF_NODE_AND ? " AND " : " OR ");
				rf_emit_node(b, lfirst(lc));
			}
			appendStringInfoChar(s, ')');
			return;
		case RF_NODE_NOT:
			appendStringInfoString(s, "(NOT COALESCE(");
			rf_emit_node(b, linitial(n->children));
			appendStringInfoString(s, ", false))");
			return;
		case RF_NODE_CMP:
			if (n->op == RF_OP_NE)
			{
				appendStringInfoString(s, "(NOT COALESCE(");
				rf_emit_comparison(b, n, RF_OP_EQ);
				appendStringInfoString(s, ", false))");
			}
			else
				rf_emit_comparison(b, n, n->op);
			return;
		case RF_NODE_IN:
			if (n->op == RF_OP_NIN)
				appendStringInfoString(s, "(NOT COALESCE(");
			rf_emit_in(b, n);
			if (n->op == RF_OP_NIN)
				appendStringInfoString(s, ", false))");
			return;
		case RF_NODE_CONTAINS:
			rf_emit_contains(b, n);
			return;
		case RF_NODE_EXISTS:
			rf_emit_exists(b, n);
			return;
	}
}

static bool
rf_sort_fits_column(RfValueKind as, Oid typid)
{
	return as == RF_VALUE_JSON || rf_kind_fits_column(as, typid);
}

static void
rf_emit_where(RfBuild *b, const RfNode *filter, bool include_deleted)
{
	if (!include_deleted)
		appendStringInfoString(&b->sql, " WHERE deleted_at IS NULL");
	if (filter != NULL)
	{
		appendStringInfoString(&b->sql, include_deleted ? " WHERE " : " AND ");
		rf_emit_node(b, filter);
	}
}

/* SELECT data (or the selected fields) FROM ... WHERE ... ORDER BY ... LIMIT ... */
char *
rf_build_select(const RfQueryCollection *coll, const RfQuery *q, RfArgs *args)
{
	RfBuild		b = {.coll = coll, .args = args};
	ListCell   *lc;

	initStringInfo(&b.sql);
	if (q->select == NIL)
		appendStringInfoString(&b.sql, "SELECT data");
	else
	{
		appendStringInfoString(&b.sql, "SELECT pg_catalog.jsonb_build_object(");
		foreach(lc, q->select)
		{
			RfSelect   *sel = lfirst(lc);

			if (lc != list_head(q->select))
				appendStringInfoString(&b.sql, ", ");
			appendStringInfo(&b.sql, "$%d::pg_catalog.text, ",
							 rf_arg(args, TEXTOID, CStringGetTextDatum(sel->field), false));
			if (sel->path.column != NULL)
				appendStringInfo(&b.sql, "pg_catalog.to_jsonb(%s)", sel->path.column);
			else
				rf_emit_path(&b.sql, &sel->path.doc, false);
		}
		appendStringInfoChar(&b.sql, ')');
	}
	appendStringInfo(&b.sql, " FROM %s", coll->table);
	rf_emit_where(&b, q->filter, q->include_deleted);
	foreach(lc, q->order_by)
	{
		RfOrder    *o = lfirst(lc);
		const RfDupField *f = rf_find_field(coll, &o->path);

		appendStringInfoString(&b.sql, lc == list_head(q->order_by) ? " ORDER BY " : ", ");
		if (o->path.column != NULL)
			appendStringInfoString(&b.sql, o->path.column);
		else if (f != NULL && rf_sort_fits_column(o->as, f->typid))
			appendStringInfoString(&b.sql, f->column);
		else
			rf_emit_typed(&b.sql, &o->path.doc, o->as);
		if (o->descending)
			appendStringInfoString(&b.sql, " DESC");
		if (o->nulls != 0)
			appendStringInfoString(&b.sql, o->nulls == 1 ? " NULLS FIRST" : " NULLS LAST");
	}
	if (q->has_limit)
		appendStringInfo(&b.sql, " LIMIT $%d", rf_arg(args, INT8OID, Int64GetDatum(q->limit), false));
	if (q->offset > 0)
		appendStringInfo(&b.sql, " OFFSET $%d", rf_arg(args, INT8OID, Int64GetDatum(q->offset), false));
	return b.sql.data;
}

/* SELECT count(*) FROM ... WHERE ... */
char *
rf_build_count(const RfQueryCollection *coll, const RfNode *filter, bool include_deleted, RfArgs *args)
{
	RfBuild		b = {.coll = coll, .args = args};

	initStringInfo(&b.sql);
	appendStringInfo(&b.sql, "SELECT pg_catalog.count(*) FROM %s", coll->table);
	rf_emit_where(&b, filter, include_deleted);
	return b.sql.data;
}
