/*-------------------------------------------------------------------------
 *
 * doc_fields.c
 *	  The trigger that keeps duplicated fields (real columns copied out of
 *	  the document) in step with the data, and rillflow._check_field_path
 *	  (the path rule itself is doc_path.c's, shared with doc_query).
 *
 *	  The trigger is self-describing: its arguments are the fields, four per
 *	  field (column, path, type, transform or ''), written by
 *	  rillflow._sync_collection_table from the store's duplicated_fields table
 *	  whenever a field is added or dropped. So it reads no catalog table per
 *	  row, and pg_dump carries it with the collection table. A value that does
 *	  not convert to the column's type fails the write with an error naming
 *	  the path, the type and the document.
 *
 *	  The trigger trusts neither its arguments nor its table: before it
 *	  touches a row it checks that the table has id uuid and data jsonb, that
 *	  each field's column exists with exactly the field's type, and that each
 *	  path, type and transform is one rillflow makes (42804 for a column of
 *	  the wrong type, 22023 for a bad argument). Writing a datum of one type
 *	  into a column of another would hand out server memory or crash the
 *	  server (issue 8). The checked shape is kept for the statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/uuid.h"

#include "core/args.h"
#include "documents/doc_path.h"
#include "documents/doc_transform.h"

PG_FUNCTION_INFO_V1(rillflow_check_field_path);
PG_FUNCTION_INFO_V1(rillflow_doc_sync_fields);
PG_FUNCTION_INFO_V1(rillflow_doc_field_value);
PG_FUNCTION_INFO_V1(rillflow_check_duplicated_field_type);

/*
 * rillflow._check_field_path(path text, argname text) RETURNS text[]
 *
 * The parts of a dotted path, or 22004/22023 naming argname: the path rule of
 * rf_parse_doc_path (doc_path.c) for the SQL functions that take a path.
 */
Datum
rillflow_check_field_path(PG_FUNCTION_ARGS)
{
	char	   *argname = PG_ARGISNULL(1) ? "path" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	RfDocPath	path;
	Datum	   *elems;

	rf_require_arg(fcinfo, 0, argname, RF_DOC_PATH_HINT);
	rf_doc_path_or_error(text_to_cstring(PG_GETARG_TEXT_PP(0)), argname, &path);
	elems = palloc(sizeof(Datum) * path.nparts);
	for (int i = 0; i < path.nparts; i++)
		elems[i] = CStringGetTextDatum(path.parts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, path.nparts, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The column types a duplicated field may have: the one list, which
 * add_duplicated_field checks through rillflow._check_duplicated_field_type.
 */
typedef struct RfFieldType
{
	const char *name;
	Oid			oid;
} RfFieldType;

static const RfFieldType rf_field_types[] = {
	{"text", TEXTOID}, {"integer", INT4OID}, {"bigint", INT8OID}, {"numeric", NUMERICOID},
	{"boolean", BOOLOID}, {"timestamptz", TIMESTAMPTZOID}, {"uuid", UUIDOID},
};

#define RF_N_FIELD_TYPES lengthof(rf_field_types)

/* Input functions of those types, looked up once per backend. */
static FmgrInfo rf_type_input[RF_N_FIELD_TYPES];
static Oid	rf_type_ioparam[RF_N_FIELD_TYPES];
static bool rf_type_input_ready[RF_N_FIELD_TYPES];

/*
 * The index of a field type in rf_field_types; for a type not in it (or
 * NULL), 22023 (22004) naming the types there are.
 */
static int
rf_field_type_index(const char *name)
{
	StringInfoData known;

	for (int i = 0; name != NULL && i < (int) RF_N_FIELD_TYPES; i++)
		if (strcmp(rf_field_types[i].name, name) == 0)
			return i;
	initStringInfo(&known);
	for (int i = 0; i < (int) RF_N_FIELD_TYPES; i++)
		appendStringInfo(&known, "%s%s", i > 0 ? ", " : "", rf_field_types[i].name);
	ereport(ERROR,
			(errcode(name ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("invalid type %s for a duplicated field", name ? rf_quote_arg(name, 100) : "NULL"),
			 errhint("The type is one of %s.", known.data)));
	return -1;					/* keep the compiler quiet */
}

/*
 * rillflow._check_duplicated_field_type(type text) RETURNS void
 *
 * 22023 unless type is one a duplicated field may have (22004 for NULL).
 */
Datum
rillflow_check_duplicated_field_type(PG_FUNCTION_ARGS)
{
	(void) rf_field_type_index(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * The value at a path of a document, as text the way ->> gives it; NULL
 * when the path is missing or holds JSON null.
 */
static char *
rf_jsonb_path_text(Jsonb *doc, char *path)
{
	JsonbContainer *container = &doc->root;
	JsonbValue *v = NULL;
	char	   *save;
	char	   *part;
	char	   *copy = pstrdup(path);

	for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save))
	{
		if (container == NULL)
			return NULL;
		if (JsonContainerIsObject(container))
			v = getKeyJsonValueFromContainer(container, part, strlen(part), NULL);
		else if (JsonContainerIsArray(container) && part[0] >= '0' && part[0] <= '9')
			v = getIthJsonbValueFromContainer(container, (uint32) strtoul(part, NULL, 10));
		else
			v = NULL;
		if (v == NULL)
			return NULL;
		container = v->type == jbvBinary ? v->val.binary.data : NULL;
	}
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			elog(ERROR, "rillflow: unexpected jsonb value type %d", v->type);
	}
	return NULL;
}

/* Apply a stored transform (validated when the field was added). */
static char *
rf_apply_transform(const char *transform, char *value)
{
	PGFunction	fns[RF_MAX_TRANSFORM_DEPTH];
	int			n;

	if (transform[0] == '\0')
		return value;
	n = rf_parse_transform(transform, fns);
	if (n < 0)
		elog(ERROR, "rillflow: unknown duplicated field transform \"%s\"", transform);
	return TextDatumGetCString(rf_apply_transforms(n, fns, CStringGetTextDatum(value)));
}

/*
 * The value of one duplicated field for a document: the text at path,
 * transformed, then converted by the column type's input function; NULL
 * (*isnull) when the path is missing or holds JSON null. A value that does
 * not convert raises the conversion's SQLSTATE, naming the document (id may
 * be NULL), the path and the column.
 */
static Datum
rf_field_value(Jsonb *doc, pg_uuid_t *id, const char *column, char *path, int t,
			   const char *transform, bool *isnull)
{
	const char *type = rf_field_types[t].name;
	char	   *text = doc ? rf_jsonb_path_text(doc, path) : NULL;
	Datum		value = (Datum) 0;

	*isnull = (text == NULL);
	if (text == NULL)
		return (Datum) 0;
	text = rf_apply_transform(transform, text);
	if (rf_field_types[t].oid == TEXTOID)
		return CStringGetTextDatum(text);
	if (!rf_type_input_ready[t])
	{
		Oid			input;

		getTypeInputInfo(rf_field_types[t].oid, &input, &rf_type_ioparam[t]);
		fmgr_info_cxt(input, &rf_type_input[t], TopMemoryContext);
		rf_type_input_ready[t] = true;
	}

	/*
	 * Catch the input function's error only to say which document and field
	 * it is about, then raise at once: nothing runs on after the catch, so no
	 * subtransaction is needed.
	 */
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			value = InputFunctionCall(&rf_type_input[t], text, rf_type_ioparam[t], -1);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("document %s: the value at path \"%s\" does not convert to %s for duplicated field \"%s\"",
							id ? DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id))) : "(no id)",
							path, type, column),
					 errdetail("%s", edata->message),
					 errhint("Store a value of type %s at \"%s\", or drop the duplicated field with rillflow.drop_duplicated_field.",
							 type, path)));
		}
		PG_END_TRY();
	}
	return value;
}

/*
 * rillflow._doc_field_value(id uuid, data jsonb, column_name text, path text,
 *							 type text, transform text, target anyelement)
 *	 RETURNS anyelement
 *
 * What the trigger would write into a duplicated field's column for one
 * document; target is NULL::type. add_duplicated_field backfills with it in
 * one UPDATE of that column alone, where firing the trigger would rewrite
 * data and recompute every other field of the collection.
 */
Datum
rillflow_doc_field_value(PG_FUNCTION_ARGS)
{
	int			t;
	bool		isnull;
	Datum		value;

	rf_require_arg(fcinfo, 2, "column_name", NULL);
	rf_require_arg(fcinfo, 3, "path", RF_DOC_PATH_HINT);
	rf_require_arg(fcinfo, 4, "type", NULL);
	t = rf_field_type_index(text_to_cstring(PG_GETARG_TEXT_PP(4)));
	{
		RfDocPath	path;
		PGFunction	fns[RF_MAX_TRANSFORM_DEPTH];
		char	   *transform = PG_ARGISNULL(5) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(5));

		rf_doc_path_or_error(text_to_cstring(PG_GETARG_TEXT_PP(3)), "path", &path);
		if (transform[0] != '\0' && rf_parse_transform(transform, fns) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid transform %s", quote_literal_cstr(transform)),
					 errhint("A transform is one that rillflow.add_duplicated_field accepts (docs/documents.md).")));
	}
	if (get_fn_expr_argtype(fcinfo->flinfo, 6) != rf_field_types[t].oid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target must be a NULL of type %s, not of type %s", rf_field_types[t].name,
						format_type_be(get_fn_expr_argtype(fcinfo->flinfo, 6)))));
	value = rf_field_value(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
						   PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0),
						   text_to_cstring(PG_GETARG_TEXT_PP(2)), text_to_cstring(PG_GETARG_TEXT_PP(3)), t,
						   PG_ARGISNULL(5) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(5)), &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

/* One field of a duplicated-fields trigger, checked against its table. */
typedef struct RfSyncField
{
	int			attnum;			/* the column's number in the table */
	int			type;			/* index into rf_field_types */
	const char *column;
	char	   *path;
	const char *transform;
} RfSyncField;

/* A trigger's checked shape on its table, kept in fn_extra for a statement. */
typedef struct RfSyncShape
{
	Oid			tgoid;
	Oid			relid;
	int			data_attnum;
	int			id_attnum;
	int			nfields;
	RfSyncField *fields;
} RfSyncShape;

/* The number of a column of tupdesc, which must be of type typid (42804). */
static int
rf_typed_column(TupleDesc tupdesc, Relation rel, const char *column, Oid typid)
{
	int			attnum = SPI_fnumber(tupdesc, column);

	if (attnum <= 0 || TupleDescAttr(tupdesc, attnum - 1)->atttypid != typid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("rillflow._doc_sync_fields needs a column \"%s\" of type %s in table \"%s\"",
						column, format_type_be(typid), RelationGetRelationName(rel)),
				 attnum > 0
				 ? errdetail("The column is of type %s.",
							 format_type_be(TupleDescAttr(tupdesc, attnum - 1)->atttypid))
				 : errdetail("The table has no such column."),
				 errhint("The trigger belongs on a rillflow collection table; rillflow.add_duplicated_field creates it.")));
	return attnum;
}

/*
 * Check a trigger's arguments against its table (see the file header), once
 * per statement: the result is kept in flinfo->fn_extra.
 */
static RfSyncShape *
rf_sync_shape(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	RfSyncShape *shape = (RfSyncShape *) fcinfo->flinfo->fn_extra;
	MemoryContext old;

	if (shape != NULL && shape->tgoid == trigger->tgoid && shape->relid == RelationGetRelid(rel))
		return shape;

	if (trigger->tgnargs % 4 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rillflow._doc_sync_fields takes four arguments per field, not %d arguments",
						trigger->tgnargs),
				 errdetail("Each field is a column, a path, a type and a transform ('' for none).")));
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	shape = palloc0(sizeof(RfSyncShape));
	shape->nfields = trigger->tgnargs / 4;
	shape->fields = palloc0(sizeof(RfSyncField) * Max(shape->nfields, 1));
	MemoryContextSwitchTo(old);
	shape->data_attnum = rf_typed_column(tupdesc, rel, "data", JSONBOID);
	shape->id_attnum = rf_typed_column(tupdesc, rel, "id", UUIDOID);
	for (int i = 0; i < shape->nfields; i++)
	{
		char	  **arg = &trigger->tgargs[i * 4];
		RfSyncField *f = &shape->fields[i];
		RfDocPath	path;
		PGFunction	fns[RF_MAX_TRANSFORM_DEPTH];
		Form_pg_attribute att;

		f->column = arg[0];
		f->attnum = SPI_fnumber(tupdesc, arg[0]);
		if (f->attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("duplicated field column \"%s\" is missing from table \"%s\"",
							arg[0], RelationGetRelationName(rel))));
		f->type = rf_field_type_index(arg[2]);	/* 22023 */
		att = TupleDescAttr(tupdesc, f->attnum - 1);
		if (att->atttypid != rf_field_types[f->type].oid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table \"%s\" is of type %s, not of the duplicated field's type %s",
							arg[0], RelationGetRelationName(rel), format_type_be(att->atttypid),
							rf_field_types[f->type].name)));
		rf_doc_path_or_error(arg[1], "a duplicated field of rillflow._doc_sync_fields", &path);	/* 22023 */
		f->path = arg[1];
		if (arg[3][0] != '\0' && rf_parse_transform(arg[3], fns) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid transform %s for duplicated field \"%s\"", quote_literal_cstr(arg[3]), arg[0]),
					 errhint("A transform is one that rillflow.add_duplicated_field accepts (docs/documents.md).")));
		f->transform = arg[3];
	}
	shape->tgoid = trigger->tgoid;
	shape->relid = RelationGetRelid(rel);
	fcinfo->flinfo->fn_extra = shape;
	return shape;
}

/*
 * rillflow._doc_sync_fields() RETURNS trigger
 *
 * BEFORE INSERT OR UPDATE OF data, FOR EACH ROW, on a collection table, with
 * arguments (column, path, type, transform) per duplicated field.
 */
Datum
rillflow_doc_sync_fields(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RfSyncShape *shape;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	int		   *columns;
	Datum	   *values;
	bool	   *nulls;
	bool		isnull;
	Datum		data;
	Jsonb	   *doc;
	Datum		idvalue;
	bool		idnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rillflow._doc_sync_fields must run as a BEFORE INSERT OR UPDATE row trigger")));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	shape = rf_sync_shape(fcinfo, trigdata);
	if (shape->nfields == 0)
		return PointerGetDatum(tuple);

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	data = heap_getattr(tuple, shape->data_attnum, tupdesc, &isnull);
	doc = isnull ? NULL : DatumGetJsonbP(data);
	idvalue = heap_getattr(tuple, shape->id_attnum, tupdesc, &idnull);
	columns = palloc(sizeof(int) * shape->nfields);
	values = palloc(sizeof(Datum) * shape->nfields);
	nulls = palloc(sizeof(bool) * shape->nfields);
	for (int i = 0; i < shape->nfields; i++)
	{
		RfSyncField *f = &shape->fields[i];

		columns[i] = f->attnum;
		values[i] = rf_field_value(doc, idnull ? NULL : DatumGetUUIDP(idvalue), f->column, f->path,
								   f->type, f->transform, &nulls[i]);
	}
	tuple = heap_modify_tuple_by_cols(tuple, tupdesc, shape->nfields, columns, values, nulls);
	return PointerGetDatum(tuple);
}
