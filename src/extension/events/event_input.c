/*-------------------------------------------------------------------------
 *
 * event_input.c
 *	  Validation of what callers pass to the append functions.
 *
 *	  Everything is checked before the append writes anything, and every
 *	  error names the argument and the element at fault, so a caller can fix
 *	  the one thing that is wrong.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "core/json.h"
#include "events/event_input.h"

static int
rf_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse a uuid written as 32 hex digits, with or without the hyphens of the
 * 8-4-4-4-12 form. Returns false for anything else.
 */
static bool
rf_parse_uuid(const char *s, int len, pg_uuid_t *out)
{
	bool		hyphenated = (len == 36);
	int			pos = 0;

	if (len != 32 && len != 36)
		return false;
	for (int byte = 0; byte < UUID_LEN; byte++)
	{
		int			hi,
					lo;

		if (hyphenated && (pos == 8 || pos == 13 || pos == 18 || pos == 23))
		{
			if (s[pos] != '-')
				return false;
			pos++;
		}
		hi = rf_hex_value(s[pos]);
		lo = rf_hex_value(s[pos + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->data[byte] = (unsigned char) (hi << 4 | lo);
		pos += 2;
	}
	return pos == len;
}

/*
 * An event type is 1 to RF_EVENT_TYPE_MAXLEN bytes with no control
 * characters: it is shown in tools and matched by filters, so it must be
 * printable.
 */
void
rf_validate_event_type(const char *type, int len, const char *what)
{
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhint("An event type names what happened, such as \"OrderPlaced\".")));
	if (len > RF_EVENT_TYPE_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It is %d bytes; the limit is %d.", len, RF_EVENT_TYPE_MAXLEN)));
	for (int i = 0; i < len; i++)
	{
		if ((unsigned char) type[i] < 0x20 || type[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s contains a control character", what),
					 errdetail("Byte %d is 0x%02x.", i, (unsigned char) type[i])));
	}
}

/* The optional per-call headers argument must be a JSON object. */
void
rf_validate_headers_arg(Jsonb *headers)
{
	if (headers != NULL && !JB_ROOT_IS_OBJECT(headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("headers must be a JSON object"),
				 errhint("Pass headers as {\"name\": value, ...}, or NULL for none.")));
}

void
rf_validate_idempotency_key(const char *key)
{
	size_t		len = strlen(key);

	if (len == 0 || len > RF_IDEMPOTENCY_KEY_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency_key must be 1 to %d bytes long", RF_IDEMPOTENCY_KEY_MAXLEN),
				 errdetail("It is %zu bytes.", len),
				 errhint("Pass NULL for an append without an idempotency key.")));
}

void
rf_validate_expected_version(int64 expected)
{
	if (expected < -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_version must be NULL, 0, -1 or a positive version, not " INT64_FORMAT,
						expected),
				 errhint("NULL: any state; 0: the stream must not exist; -1: it must exist; n: it must be at version n.")));
}

/* The integer in a JSON number, or false when it is not a whole int4 >= 1. */
static bool
rf_positive_int4(const JsonbValue *v, int32 *out)
{
	char	   *text;
	char	   *end;
	long		value;

	if (v->type != jbvNumeric)
		return false;
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value < 1 || value > PG_INT32_MAX)
		return false;
	*out = (int32) value;
	return true;
}

typedef struct RfIndexedUuid
{
	pg_uuid_t	id;
	int			index;			/* position in the events array */
} RfIndexedUuid;

static int
rf_compare_indexed_uuid(const void *a, const void *b)
{
	const RfIndexedUuid *x = a;
	const RfIndexedUuid *y = b;
	int			cmp = memcmp(x->id.data, y->id.data, UUID_LEN);

	if (cmp != 0)
		return cmp;
	return (x->index > y->index) - (x->index < y->index);
}

static void
rf_validate_event_keys(JsonbContainer *event, int index)
{
	JsonbIterator *it = JsonbIteratorInit(event);
	JsonbValue	v;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *key;
		int			len;

		if (token != WJB_KEY)
			continue;
		key = v.val.string.val;
		len = v.val.string.len;
		if ((len == 4 && memcmp(key, "type", 4) == 0) ||
			(len == 4 && memcmp(key, "body", 4) == 0) ||
			(len == 7 && memcmp(key, "headers", 7) == 0) ||
			(len == 13 && memcmp(key, "event_version", 13) == 0) ||
			(len == 8 && memcmp(key, "event_id", 8) == 0))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events[%d] has an unknown key \"%.*s\"", index, Min(len, 64), key),
				 errhint("An event has the keys type, body, headers, event_version and event_id.")));
	}
}

/*
 * Validate the events argument of append_events and take it apart into
 * columns, in one pass. Every element must be an object with a string "type"
 * and a "body"; "headers" must be an object, "event_version" a positive
 * integer, "event_id" a uuid not repeated within the call.
 */
void
rf_read_events(Jsonb *events, RfEventColumns *out)
{
	int			count;
	RfIndexedUuid *event_ids;
	int			n_event_ids = 0;

	if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must be a JSON array of event objects"),
				 errdetail("Got a JSON %s.",
						   JB_ROOT_IS_OBJECT(events) ? "object" : "scalar"),
				 errhint("Pass [{\"type\": \"...\", \"body\": {...}}, ...].")));
	count = JB_ROOT_COUNT(events);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must not be empty"),
				 errhint("An append adds at least one event.")));

	event_ids = palloc(sizeof(RfIndexedUuid) * count);
	out->count = count;
	out->types = palloc(sizeof(Datum) * count);
	out->bodies = palloc(sizeof(Datum) * count);
	out->headers = palloc(sizeof(Datum) * count);
	out->headers_null = palloc(sizeof(bool) * count);
	out->event_versions = palloc(sizeof(Datum) * count);
	out->event_ids = palloc(sizeof(Datum) * count);
	out->event_ids_null = palloc(sizeof(bool) * count);
	for (int i = 0; i < count; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&events->root, i);
		JsonbContainer *event;
		JsonbValue	field;
		char		what[64];

		if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] must be a JSON object", i),
					 errdetail("Got a JSON %s.", rf_json_type_name(elem)),
					 errhint("Each event is {\"type\": \"...\", \"body\": {...}}.")));
		event = elem->val.binary.data;
		rf_validate_event_keys(event, i);

		if (getKeyJsonValueFromContainer(event, "type", 4, &field) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] has no \"type\"", i),
					 errhint("Each event is {\"type\": \"...\", \"body\": {...}}.")));
		if (field.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d].type must be a string", i),
					 errdetail("Got a JSON %s.", rf_json_type_name(&field))));
		snprintf(what, sizeof(what), "events[%d].type", i);
		rf_validate_event_type(field.val.string.val, field.val.string.len, what);
		out->types[i] = PointerGetDatum(cstring_to_text_with_len(field.val.string.val,
																 field.val.string.len));

		if (getKeyJsonValueFromContainer(event, "body", 4, &field) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] has no \"body\"", i),
					 errhint("Each event is {\"type\": \"...\", \"body\": {...}}.")));
		out->bodies[i] = JsonbPGetDatum(JsonbValueToJsonb(&field));

		out->headers_null[i] = true;
		if (getKeyJsonValueFromContainer(event, "headers", 7, &field) != NULL)
		{
			if (field.type != jbvBinary || !JsonContainerIsObject(field.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("events[%d].headers must be a JSON object", i),
						 errdetail("Got a JSON %s.", rf_json_type_name(&field))));
			out->headers[i] = JsonbPGetDatum(JsonbValueToJsonb(&field));
			out->headers_null[i] = false;
		}

		out->event_versions[i] = Int32GetDatum(1);
		if (getKeyJsonValueFromContainer(event, "event_version", 13, &field) != NULL)
		{
			int32		event_version;

			if (!rf_positive_int4(&field, &event_version))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("events[%d].event_version must be an integer from 1 to %d", i, PG_INT32_MAX),
						 errdetail("Got a JSON %s.", rf_json_type_name(&field))));
			out->event_versions[i] = Int32GetDatum(event_version);
		}

		out->event_ids_null[i] = true;
		if (getKeyJsonValueFromContainer(event, "event_id", 8, &field) != NULL)
		{
			pg_uuid_t  *id = &event_ids[n_event_ids].id;

			if (field.type != jbvString ||
				!rf_parse_uuid(field.val.string.val, field.val.string.len, id))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("events[%d].event_id is not a valid uuid", i),
						 field.type == jbvString
						 ? errdetail("Got \"%.*s\".", Min(field.val.string.len, 64), field.val.string.val)
						 : errdetail("Got a JSON %s.", rf_json_type_name(&field)),
						 errhint("Write a uuid as 32 hex digits, such as \"8c4e1f52-4a07-4d3e-9d8a-0c5c2f7e5b11\".")));
			event_ids[n_event_ids].index = i;
			n_event_ids++;
			/* A copy: event_ids is sorted below. */
			out->event_ids[i] = UUIDPGetDatum(memcpy(palloc(sizeof(pg_uuid_t)), id, sizeof(pg_uuid_t)));
			out->event_ids_null[i] = false;
		}
	}

	/* Sorted, a repeated event_id sits next to its first use. */
	qsort(event_ids, n_event_ids, sizeof(RfIndexedUuid), rf_compare_indexed_uuid);
	for (int j = 1; j < n_event_ids; j++)
	{
		if (memcmp(event_ids[j - 1].id.data, event_ids[j].id.data, UUID_LEN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d].event_id repeats events[%d].event_id",
							event_ids[j].index, event_ids[j - 1].index),
					 errhint("Every event needs its own event_id.")));
	}
	pfree(event_ids);
	out->has_event_ids = n_event_ids > 0;
}
