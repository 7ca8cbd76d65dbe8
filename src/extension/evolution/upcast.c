/*-------------------------------------------------------------------------
 *
 * upcast.c
 *	  Upcasting stored events to the newest version reachable from their
 *	  (type, event_version), on every read path.
 *
 *	  A store's registry (S.upcasters) holds steps: (event_type,
 *	  from_version) -> (to_type, to_version) by a function taking jsonb (the
 *	  body) or rillflow.event_envelope and returning the new body. At most
 *	  one step leaves each (type, version) and versions only go up, so from
 *	  any stored (type, version) there is exactly one chain, and it ends.
 *
 *	  The cache. Each backend loads a store's registry once and resolves
 *	  each (type, version) it meets to its chain once, kept in a memory
 *	  context of the store's entry. The entry is dropped when the registry
 *	  changes: a statement trigger on S.upcasters sends a relcache
 *	  invalidation of the table (rillflow._upcasters_changed), which every
 *	  backend receives at its next read (rf_upcasters_acquire accepts
 *	  invalidations first), on commit for others and at the next command
 *	  for the writer itself; an abort undoes it the same way. A change of any
 *	  function or role (pg_proc, pg_authid: a function replaced, dropped, its
 *	  EXECUTE revoked, an owner dropped) drops every entry, so each step's
 *	  function and owner are checked again before their next call. A read in
 *	  progress keeps the entry it started with: replaced entries are freed
 *	  at the end of the transaction.
 *
 *	  The calls. Each step runs as the role that registered it,
 *	  security-restricted (user_code.c), whoever reads: the reader gets the
 *	  upcast body and no more of the owner's rights. A failing step is an
 *	  error naming the event (position, stream version, type, event_version)
 *	  and the step, with the step's own SQLSTATE: no event is skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "nodes/params.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/sinval.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "core/errcodes.h"
#include "core/plans.h"
#include "core/store.h"
#include "evolution/evolution.h"

PG_FUNCTION_INFO_V1(rillflow_upcasters_changed);
PG_FUNCTION_INFO_V1(rillflow_upcaster_path);
PG_FUNCTION_INFO_V1(rillflow_upcast_envelope);
PG_FUNCTION_INFO_V1(rillflow_upcast_type_in);

/* "version:type", a type being at most 255 bytes (event_input.h). */
#define RF_UPCAST_KEYLEN (256 + 16)

typedef struct RfUpcastStep
{
	char	   *from_type;
	int32		from_version;
	char	   *to_type;
	Datum		to_type_datum;	/* to_type as text, made once */
	int32		to_version;
	Oid			fn;
	Oid			owner;
	bool		takes_envelope;
	bool		ready;			/* checked and flinfo set */
	FmgrInfo	flinfo;
} RfUpcastStep;

typedef struct RfUpcastChain
{
	int			nsteps;
	RfUpcastStep **steps;
	Datum		final_type;		/* text, in the entry's context */
	int32		final_version;
} RfUpcastChain;

typedef struct RfKeyEntry
{
	char		key[RF_UPCAST_KEYLEN];
	void	   *ptr;			/* RfUpcastStep (steps) or RfUpcastChain (chains; NULL: none) */
} RfKeyEntry;

struct RfUpcasters
{
	Oid			schema_oid;
	Oid			registry_relid;
	bool		valid;
	MemoryContext cxt;
	HTAB	   *steps;			/* (from_version, event_type) -> step */
	HTAB	   *chains;			/* (event_version, type) -> chain, resolved on first use */
	int			nsteps;
	RfUpcastStep *all;
	TupleDesc	envelope_desc;	/* when a step takes the envelope */
};

typedef struct RfStoreEntry
{
	Oid			schema_oid;
	RfUpcasters *ups;
} RfStoreEntry;

static HTAB *rf_upcast_stores = NULL;
static List *rf_retired = NIL;	/* contexts of replaced entries, freed at xact end */
static bool rf_callbacks_registered = false;

static const RfPlanSpec rf_registry_plan = {
	"SELECT event_type, from_version, to_version, to_type, rillflow._function_ref(fn)::pg_catalog.oid, "
	"  owner::pg_catalog.oid, "
	"  takes_envelope FROM %s.upcasters",
	0, {InvalidOid}
};

/* Drop an entry: its memory goes when no read can still hold it. */
static void
rf_retire(RfStoreEntry *entry)
{
	if (entry->ups != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		rf_retired = lappend(rf_retired, entry->ups->cxt);
		MemoryContextSwitchTo(old);
		entry->ups->valid = false;
		entry->ups = NULL;
	}
}

static void
rf_invalidate_all(void)
{
	HASH_SEQ_STATUS seq;
	RfStoreEntry *entry;

	if (rf_upcast_stores == NULL)
		return;
	hash_seq_init(&seq, rf_upcast_stores);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->ups != NULL)
			entry->ups->valid = false;
}

static void
rf_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	RfStoreEntry *entry;

	if (rf_upcast_stores == NULL)
		return;
	hash_seq_init(&seq, rf_upcast_stores);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->ups != NULL && (relid == InvalidOid || relid == entry->ups->registry_relid))
			entry->ups->valid = false;
}

static void
rf_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	rf_invalidate_all();
}

static void
rf_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		ListCell   *lc;

		foreach(lc, rf_retired)
			MemoryContextDelete((MemoryContext) lfirst(lc));
		list_free(rf_retired);
		rf_retired = NIL;
	}
}

static void
rf_register_callbacks(void)
{
	HASHCTL		ctl;

	if (rf_callbacks_registered)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RfStoreEntry);
	rf_upcast_stores = hash_create("rillflow upcasters", 8, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(rf_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, rf_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, rf_syscache_callback, (Datum) 0);
	RegisterXactCallback(rf_xact_callback, NULL);
	rf_callbacks_registered = true;
}

static void
rf_make_key(char *key, int32 version, const char *type, int typelen)
{
	/* pg_ltoa, not snprintf: this runs for every event read */
	int			n = pg_ltoa(version, key);

	key[n++] = ':';
	typelen = Min(typelen, RF_UPCAST_KEYLEN - n - 1);
	memcpy(key + n, type, typelen);
	key[n + typelen] = '\0';
}

static HTAB *
rf_key_hash(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = RF_UPCAST_KEYLEN;
	ctl.entrysize = sizeof(RfKeyEntry);
	ctl.hcxt = cxt;
	return hash_create(name, 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* The envelope's row type, for steps that take it. */
static TupleDesc
rf_envelope_desc(void)
{
	Oid			nsp = get_namespace_oid("rillflow", false);
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("event_envelope"),
										ObjectIdGetDatum(nsp));

	return lookup_rowtype_tupdesc_copy(typid, -1);
}

/* Load a store's registry; SPI is connected. NULL: no steps. */
static RfUpcasters *
rf_load(const RfStore *store)
{
	Oid			relid = get_relname_relid("upcasters", store->schema_oid);
	MemoryContext cxt;
	MemoryContext old;
	RfUpcasters *ups;
	SPITupleTable *tab;
	uint64		n;

	cxt = AllocSetContextCreate(TopMemoryContext, "rillflow upcasters", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	ups = palloc0(sizeof(RfUpcasters));
	ups->schema_oid = store->schema_oid;
	ups->registry_relid = relid;
	ups->valid = true;
	ups->cxt = cxt;
	MemoryContextSwitchTo(old);
	if (!OidIsValid(relid))
		return ups;				/* a store without the registry yet: nothing to do */

	rf_run_plan(store, &rf_registry_plan, NULL, NULL, true, 0);
	tab = SPI_tuptable;
	n = SPI_processed;
	old = MemoryContextSwitchTo(cxt);
	ups->nsteps = (int) n;
	ups->all = palloc0(sizeof(RfUpcastStep) * (n + 1));
	ups->steps = rf_key_hash("rillflow upcaster steps", cxt);
	ups->chains = rf_key_hash("rillflow upcaster chains", cxt);
	for (uint64 i = 0; i < n; i++)
	{
		RfUpcastStep *step = &ups->all[i];
		HeapTuple	tup = tab->vals[i];
		TupleDesc	desc = tab->tupdesc;
		bool		isnull;
		char		key[RF_UPCAST_KEYLEN];
		RfKeyEntry *e;

		step->from_type = SPI_getvalue(tup, desc, 1);
		step->from_version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		step->to_version = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		step->to_type = SPI_getvalue(tup, desc, 4);
		step->to_type_datum = CStringGetTextDatum(step->to_type);
		step->fn = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		step->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		step->takes_envelope = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		if (step->takes_envelope && ups->envelope_desc == NULL)
			ups->envelope_desc = rf_envelope_desc();
		rf_make_key(key, step->from_version, step->from_type, strlen(step->from_type));
		e = hash_search(ups->steps, key, HASH_ENTER, NULL);
		e->ptr = step;
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tab);
	return ups;
}

RfUpcasters *
rf_upcasters_acquire(const RfStore *store)
{
	RfStoreEntry *entry;
	bool		found;

	rf_register_callbacks();
	/* A registry change another backend committed is seen by this read. */
	AcceptInvalidationMessages();
	entry = hash_search(rf_upcast_stores, &store->schema_oid, HASH_ENTER, &found);
	if (!found)
		entry->ups = NULL;
	if (entry->ups != NULL && !entry->ups->valid)
		rf_retire(entry);
	if (entry->ups == NULL)
		entry->ups = rf_load(store);
	return entry->ups->nsteps > 0 ? entry->ups : NULL;
}

void
rf_upcasters_release(RfUpcasters *ups)
{
	/* Entries live in the cache; a replaced one is freed at transaction end. */
}

static RfUpcastStep *
rf_step_from(RfUpcasters *ups, const char *type, int typelen, int32 version)
{
	char		key[RF_UPCAST_KEYLEN];
	RfKeyEntry *e;

	rf_make_key(key, version, type, typelen);
	e = hash_search(ups->steps, key, HASH_FIND, NULL);
	return e ? (RfUpcastStep *) e->ptr : NULL;
}

/* The chain from a stored (type, version), resolved once; NULL when none. */
static RfUpcastChain *
rf_chain(RfUpcasters *ups, const char *type, int typelen, int32 version)
{
	char		key[RF_UPCAST_KEYLEN];
	RfKeyEntry *e;
	bool		found;

	rf_make_key(key, version, type, typelen);
	e = hash_search(ups->chains, key, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(ups->cxt);
		RfUpcastStep *step = rf_step_from(ups, type, typelen, version);
		RfUpcastChain *chain = NULL;

		e->ptr = NULL;
		if (step != NULL)
		{
			chain = palloc0(sizeof(RfUpcastChain));
			chain->steps = palloc(sizeof(RfUpcastStep *) * (ups->nsteps + 1));
			/* Versions go up at every step: at most nsteps of them. */
			while (step != NULL && chain->nsteps < ups->nsteps)
			{
				chain->steps[chain->nsteps++] = step;
				step = rf_step_from(ups, step->to_type, strlen(step->to_type), step->to_version);
			}
			step = chain->steps[chain->nsteps - 1];
			chain->final_type = CStringGetTextDatum(step->to_type);
			chain->final_version = step->to_version;
		}
		e->ptr = chain;
		MemoryContextSwitchTo(old);
	}
	return (RfUpcastChain *) e->ptr;
}

/* A step's function, checked and looked up before its first call. */
static void
rf_step_ready(RfUpcasters *ups, RfUpcastStep *step)
{
	if (step->ready)
		return;
	rf_check_user_function(step->fn, step->owner, "upcaster");
	fmgr_info_cxt(step->fn, &step->flinfo, ups->cxt);
	step->ready = true;
}

static char *
rf_event_where(Datum *values, bool *isnull)
{
	if (!isnull[RF_ENV_POSITION])
		return psprintf("position " INT64_FORMAT " (stream %s, version " INT64_FORMAT ")",
						DatumGetInt64(values[RF_ENV_POSITION]),
						DatumGetCString(DirectFunctionCall1(uuid_out, values[RF_ENV_STREAM_ID])),
						DatumGetInt64(values[RF_ENV_VERSION]));
	return psprintf("stream %s version " INT64_FORMAT " (no position yet)",
					DatumGetCString(DirectFunctionCall1(uuid_out, values[RF_ENV_STREAM_ID])),
					DatumGetInt64(values[RF_ENV_VERSION]));
}

/*
 * Call one step on the event as it is now, already as its owner
 * (rf_upcast_fields); returns the new body.
 */
static Datum
rf_call_step(RfUpcasters *ups, RfUpcastStep *step, Datum *values, bool *isnull)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;
	volatile bool result_null = false;

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		Datum		arg;

		if (step->takes_envelope)
			arg = HeapTupleGetDatum(heap_form_tuple(ups->envelope_desc, values, isnull));
		else
			arg = values[RF_ENV_BODY];
		InitFunctionCallInfoData(*fcinfo, &step->flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = arg;
		fcinfo->args[0].isnull = false;
		result = FunctionCallInvoke(fcinfo);
		result_null = fcinfo->isnull;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("could not upcast the event at %s, type %s event_version %d: "
								  "upcaster %s (%s v%d -> %s v%d) failed: %s",
								  rf_event_where(values, isnull),
								  TextDatumGetCString(values[RF_ENV_TYPE]),
								  DatumGetInt32(values[RF_ENV_EVENT_VERSION]),
								  format_procedure(step->fn), step->from_type, step->from_version,
								  step->to_type, step->to_version, edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (result_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("could not upcast the event at %s, type %s event_version %d: "
						"upcaster %s (%s v%d -> %s v%d) returned NULL",
						rf_event_where(values, isnull), TextDatumGetCString(values[RF_ENV_TYPE]),
						DatumGetInt32(values[RF_ENV_EVENT_VERSION]), format_procedure(step->fn),
						step->from_type, step->from_version, step->to_type, step->to_version),
				 errhint("An upcaster returns the new body, never NULL.")));
	return result;
}

static bool
rf_type_in(Datum type, Datum *types, int ntypes)
{
	for (int i = 0; i < ntypes; i++)
		if (DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, type, types[i])))
			return true;
	return false;
}

/* The chain of an event's stored (type, event_version); NULL when none. */
static RfUpcastChain *
rf_event_chain(RfUpcasters *ups, const Datum *values, const bool *isnull)
{
	text	   *type;

	if (ups == NULL || isnull[RF_ENV_TYPE] || isnull[RF_ENV_EVENT_VERSION])
		return NULL;
	type = DatumGetTextPP(values[RF_ENV_TYPE]);
	return rf_chain(ups, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type),
					DatumGetInt32(values[RF_ENV_EVENT_VERSION]));
}

/* Run a chain on an event's fields (rf_upcast_fields). */
static void
rf_run_chain(RfUpcasters *ups, RfUpcastChain *chain, Datum *values, bool *isnull)
{
	RfUserCall	call;
	for (int i = 0; i < chain->nsteps; i++)
		rf_step_ready(ups, chain->steps[i]);

	/*
	 * Each step runs as its owner, restricted, in a GUC nest level; steps in
	 * a row of one owner share it (settings one leaves are its owner's own),
	 * since opening and closing a nest level walks every setting.
	 */
	for (int i = 0; i < chain->nsteps; i++)
	{
		RfUpcastStep *step = chain->steps[i];

		if (i == 0 || step->owner != chain->steps[i - 1]->owner)
		{
			if (i > 0)
				rf_user_call_leave(&call);
			rf_user_call_enter(&call, step->owner);
		}
		values[RF_ENV_BODY] = rf_call_step(ups, step, values, isnull);
		values[RF_ENV_TYPE] = step->to_type_datum;
		values[RF_ENV_EVENT_VERSION] = Int32GetDatum(step->to_version);
	}
	rf_user_call_leave(&call);
}

bool
rf_upcast_fields(RfUpcasters *ups, Datum *values, bool *isnull)
{
	RfUpcastChain *chain = rf_event_chain(ups, values, isnull);

	if (chain == NULL)
		return false;
	rf_run_chain(ups, chain, values, isnull);
	return true;
}

void
rf_type_filter_init(RfTypeFilter *filter, Datum types)
{
	filter->types = NULL;
	filter->ntypes = 0;
	if (types != (Datum) 0)
		deconstruct_array(DatumGetArrayTypeP(types), TEXTOID, -1, false, TYPALIGN_INT,
						  &filter->types, NULL, &filter->ntypes);
}

bool
rf_type_filter_match(const RfTypeFilter *filter, Datum type)
{
	return filter == NULL || filter->types == NULL || rf_type_in(type, filter->types, filter->ntypes);
}

Datum
rf_upcast_envelope(RfUpcasters *ups, Datum envelope, const RfTypeFilter *filter, bool *wanted)
{
	HeapTupleHeader th;
	HeapTupleData tuple;
	TupleDesc	desc;
	Datum		values[RF_ENV_NATTS];
	bool		isnull[RF_ENV_NATTS];
	Datum		result = envelope;

	*wanted = true;
	if (ups == NULL)
		return envelope;
	th = DatumGetHeapTupleHeader(envelope);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	Assert(desc->natts == RF_ENV_NATTS);
	heap_deform_tuple(&tuple, desc, values, isnull);
	if (rf_upcast_fields(ups, values, isnull))
		result = HeapTupleGetDatum(heap_form_tuple(desc, values, isnull));
	*wanted = rf_type_filter_match(filter, values[RF_ENV_TYPE]);
	ReleaseTupleDesc(desc);
	return result;
}


Datum
rf_upcast_source_types(RfUpcasters *ups, Datum types)
{
	Datum	   *elems;
	int			n;
	Datum	   *out;
	int			nout;

	if (ups == NULL || types == (Datum) 0)
		return types;
	deconstruct_array(DatumGetArrayTypeP(types), TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	out = palloc(sizeof(Datum) * (n + ups->nsteps));
	memcpy(out, elems, sizeof(Datum) * n);
	nout = n;
	for (int i = 0; i < ups->nsteps; i++)
	{
		RfUpcastStep *step = &ups->all[i];
		RfUpcastChain *chain = rf_chain(ups, step->from_type, strlen(step->from_type), step->from_version);
		Datum		from = CStringGetTextDatum(step->from_type);

		if (rf_type_in(chain->final_type, elems, n) && !rf_type_in(from, out, nout))
			out[nout++] = from;
	}
	return PointerGetDatum(construct_array(out, nout, TEXTOID, -1, false, TYPALIGN_INT));
}

/* The receiver: upcast each row, drop those renamed out of the filter. */
typedef struct RfUpcastReceiver
{
	DestReceiver pub;
	DestReceiver *inner;
	RfUpcasters *ups;
	Datum	   *types;
	int			ntypes;
	TupleTableSlot *slot;
	MemoryContext rowcxt;
	/* the last (type, event_version) looked up and its chain: runs of one type are common */
	bool		have_last;
	int32		last_version;
	int			last_typelen;
	char		last_type[RF_UPCAST_KEYLEN];
	RfUpcastChain *last_chain;
} RfUpcastReceiver;

static void
rf_receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	RfUpcastReceiver *r = (RfUpcastReceiver *) self;

	r->slot = MakeSingleTupleTableSlot(typeinfo, &TTSOpsVirtual);
	r->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "rillflow upcast row", ALLOCSET_DEFAULT_SIZES);
	r->inner->rStartup(r->inner, operation, typeinfo);
}

static bool
rf_receiver_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RfUpcastReceiver *r = (RfUpcastReceiver *) self;
	MemoryContext old;
	bool		ok = true;
	int			natts = slot->tts_tupleDescriptor->natts;
	RfUpcastChain *chain;

	/* Most events have no chain: look at their type and version only. */
	slot_getsomeattrs(slot, RF_ENV_EVENT_VERSION + 1);
	if (r->ups == NULL || slot->tts_isnull[RF_ENV_TYPE] || slot->tts_isnull[RF_ENV_EVENT_VERSION])
		chain = NULL;
	else
	{
		text	   *type = DatumGetTextPP(slot->tts_values[RF_ENV_TYPE]);
		int			typelen = VARSIZE_ANY_EXHDR(type);
		int32		version = DatumGetInt32(slot->tts_values[RF_ENV_EVENT_VERSION]);

		if (r->have_last && r->last_version == version && r->last_typelen == typelen &&
			memcmp(r->last_type, VARDATA_ANY(type), typelen) == 0)
			chain = r->last_chain;
		else
		{
			chain = rf_chain(r->ups, VARDATA_ANY(type), typelen, version);
			r->have_last = typelen < RF_UPCAST_KEYLEN;
			if (r->have_last)
			{
				memcpy(r->last_type, VARDATA_ANY(type), typelen);
				r->last_typelen = typelen;
				r->last_version = version;
				r->last_chain = chain;
			}
		}
	}
	old = MemoryContextSwitchTo(r->rowcxt);
	if (chain != NULL)
	{
		slot_getallattrs(slot);
		ExecClearTuple(r->slot);
		memcpy(r->slot->tts_values, slot->tts_values, sizeof(Datum) * natts);
		memcpy(r->slot->tts_isnull, slot->tts_isnull, sizeof(bool) * natts);
		rf_run_chain(r->ups, chain, r->slot->tts_values, r->slot->tts_isnull);
		ExecStoreVirtualTuple(r->slot);
		if (r->types == NULL || rf_type_in(r->slot->tts_values[RF_ENV_TYPE], r->types, r->ntypes))
			ok = r->inner->receiveSlot(r->slot, r->inner);
		MemoryContextSwitchTo(old);
		ExecClearTuple(r->slot);
		MemoryContextReset(r->rowcxt);
		return ok;
	}
	if (r->types == NULL || rf_type_in(slot->tts_values[RF_ENV_TYPE], r->types, r->ntypes))
		ok = r->inner->receiveSlot(slot, r->inner);
	MemoryContextSwitchTo(old);
	return ok;
}

static void
rf_receiver_shutdown(DestReceiver *self)
{
	RfUpcastReceiver *r = (RfUpcastReceiver *) self;

	r->inner->rShutdown(r->inner);
	ExecDropSingleTupleTableSlot(r->slot);
	MemoryContextDelete(r->rowcxt);
}

static void
rf_receiver_destroy(DestReceiver *self)
{
	RfUpcastReceiver *r = (RfUpcastReceiver *) self;

	r->inner->rDestroy(r->inner);
	pfree(self);
}

DestReceiver *
rf_upcast_receiver(RfUpcasters *ups, DestReceiver *inner, Datum types)
{
	RfUpcastReceiver *r = palloc0(sizeof(RfUpcastReceiver));

	r->pub.receiveSlot = rf_receiver_receive;
	r->pub.rStartup = rf_receiver_startup;
	r->pub.rShutdown = rf_receiver_shutdown;
	r->pub.rDestroy = rf_receiver_destroy;
	r->pub.mydest = DestTuplestore;
	r->inner = inner;
	r->ups = ups;
	if (types != (Datum) 0)
		deconstruct_array(DatumGetArrayTypeP(types), TEXTOID, -1, false, TYPALIGN_INT,
						  &r->types, NULL, &r->ntypes);
	return (DestReceiver *) r;
}

/*
 * Run a store's statement of envelope rows into a set-returning function's
 * result, upcast on the way (rf_run_plan_into with rf_upcast_receiver).
 */
void
rf_upcast_run_plan_into(RfUpcasters *ups, const RfStore *store, const RfPlanSpec *spec,
						Datum *values, const char *nulls, bool read_only, Datum types,
						Tuplestorestate *result, TupleDesc result_desc)
{
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(spec->nargs);
	DestReceiver *inner = CreateTuplestoreDestReceiver();
	DestReceiver *dest;
	int			ret;

	for (int i = 0; i < spec->nargs; i++)
	{
		ParamExternData *param = &params->params[i];

		param->value = values[i];
		param->isnull = nulls != NULL && nulls[i] == 'n';
		param->pflags = PARAM_FLAG_CONST;
		param->ptype = spec->argtypes[i];
	}
	SetTuplestoreDestReceiverParams(inner, result, CurrentMemoryContext, false,
									result_desc, "rillflow query result does not match its function's type");
	dest = rf_upcast_receiver(ups, inner, types);
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = read_only;
	options.dest = dest;
	ret = SPI_execute_plan_extended(rf_store_plan(store, spec), &options);
	dest->rDestroy(dest);
	if (ret < 0)
		elog(ERROR, "rillflow statement failed: %s", SPI_result_code_string(ret));
}

/*
 * rillflow._upcasters_changed() RETURNS trigger: a statement trigger on
 * S.upcasters. Every backend drops its chains of the store at its next read.
 */
Datum
rillflow_upcasters_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rillflow._upcasters_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * rillflow.upcaster_path(from_type text, from_version integer, to_type text,
 *     to_version integer) RETURNS TABLE(step integer, event_type text,
 *     from_version integer, to_type text, to_version integer, fn regprocedure)
 *
 * The steps from one (type, version) to another, as reads take them; none
 * when they are the same; RF004 when the chain does not pass through it.
 */
Datum
rillflow_upcaster_path(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *names[4] = {"from_type", "from_version", "to_type", "to_version"};
	char	   *from_type;
	char	   *to_type;
	int32		from_version;
	int32		to_version;
	RfUpcasters *ups;
	RfUpcastChain *chain = NULL;
	int			nsteps = -1;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", names[i])));
	from_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	from_version = PG_GETARG_INT32(1);
	to_type = text_to_cstring(PG_GETARG_TEXT_PP(2));
	to_version = PG_GETARG_INT32(3);
	if (from_version < 1 || to_version < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event versions start at 1, not %d", Min(from_version, to_version))));

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ups = rf_upcasters_acquire(rf_current_store());
	if (strcmp(from_type, to_type) == 0 && from_version == to_version)
		nsteps = 0;
	else if (ups != NULL && (chain = rf_chain(ups, from_type, strlen(from_type), from_version)) != NULL)
	{
		for (int i = 0; i < chain->nsteps; i++)
			if (strcmp(chain->steps[i]->to_type, to_type) == 0 && chain->steps[i]->to_version == to_version)
			{
				nsteps = i + 1;
				break;
			}
	}
	if (nsteps < 0)
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("no upcaster path from %s v%d to %s v%d", from_type, from_version, to_type, to_version),
				 chain != NULL
				 ? errdetail("Events of %s v%d are upcast to %s v%d.", from_type, from_version,
							 TextDatumGetCString(chain->final_type), chain->final_version)
				 : errdetail("No upcaster starts at %s v%d.", from_type, from_version),
				 errhint("rillflow.list_upcasters() shows the registered steps.")));
	for (int i = 0; i < nsteps; i++)
	{
		RfUpcastStep *step = chain->steps[i];
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(step->from_type);
		values[2] = Int32GetDatum(step->from_version);
		values[3] = CStringGetTextDatum(step->to_type);
		values[4] = Int32GetDatum(step->to_version);
		values[5] = ObjectIdGetDatum(step->fn);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow._upcast_envelope(store name, e rillflow.event_envelope)
 *     RETURNS rillflow.event_envelope
 *
 * One event as read: upcast by the store's chains (as rf_upcast_envelope),
 * for the read paths written in SQL (subscription polls). The chains are
 * the per-backend ones every read shares.
 */
Datum
rillflow_upcast_envelope(PG_FUNCTION_ARGS)
{
	RfStore		store;
	Datum		envelope;
	MemoryContext caller = CurrentMemoryContext;
	RfUpcasters *ups;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	envelope = PG_GETARG_DATUM(1);
	rf_store_by_schema(NameStr(*PG_GETARG_NAME(0)), &store);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ups = rf_upcasters_acquire(&store);
	if (ups != NULL)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);
		bool		wanted;

		envelope = rf_upcast_envelope(ups, envelope, NULL, &wanted);
		MemoryContextSwitchTo(spi);
		rf_upcasters_release(ups);
	}
	SPI_finish();
	PG_RETURN_DATUM(envelope);
}

/*
 * rillflow._upcast_type_in(event_type text, event_version integer, types
 *     text[]) RETURNS boolean
 *
 * Whether the event's type as read (the end of its chain in the current
 * store, or its own) is among types: the event_types filter of subscription
 * polls, evaluated per candidate row. The chains are the per-backend ones;
 * SPI is entered only when they must be (re)loaded.
 */
Datum
rillflow_upcast_type_in(PG_FUNCTION_ARGS)
{
	text	   *type = PG_GETARG_TEXT_PP(0);
	int32		version = PG_GETARG_INT32(1);
	RfTypeFilter *filter = (RfTypeFilter *) fcinfo->flinfo->fn_extra;
	const RfStore *store = rf_current_store();
	RfStoreEntry *entry = NULL;
	RfUpcasters *ups;
	RfUpcastChain *chain = NULL;

	if (filter == NULL)
	{
		/* types is the subscription's, the same for every row of the statement */
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		filter = palloc0(sizeof(RfTypeFilter));
		rf_type_filter_init(filter, PointerGetDatum(PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(2))));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = filter;
	}
	if (rf_upcast_stores != NULL)
		entry = hash_search(rf_upcast_stores, &store->schema_oid, HASH_FIND, NULL);
	if (entry != NULL && entry->ups != NULL && entry->ups->valid)
		ups = entry->ups->nsteps > 0 ? entry->ups : NULL;
	else
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ups = rf_upcasters_acquire(store);
		SPI_finish();
	}
	if (ups != NULL)
		chain = rf_chain(ups, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type), version);
	PG_RETURN_BOOL(rf_type_filter_match(filter, chain != NULL ? chain->final_type : PointerGetDatum(type)));
}
