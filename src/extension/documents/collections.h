/*-------------------------------------------------------------------------
 *
 * collections.h
 *	  Document collections: names, their tables, creation on first use.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_COLLECTIONS_H
#define RILLFLOW_COLLECTIONS_H

#include "postgres.h"

#include "core/store.h"

/* A collection name is 1 to 48 characters of a-z, 0-9, _ starting with a letter. */
#define RF_COLLECTION_NAME_MAXLEN	48
#define RF_COLLECTION_TABLE_PREFIX	"doc_"
#define RF_COLLECTION_NAME_HINT \
	"A collection name is 1 to 48 characters of a-z, 0-9 and _, starting with a letter."

/* rillflow.auto_create_collections (documents_init.c) */
extern bool rf_auto_create_collections;

/* Called from _PG_init: the documents' settings (documents_init.c). */
extern void rf_documents_init(void);

extern bool rf_collection_name_is_valid(const char *name);
extern void rf_check_collection_name(const char *name);
extern void rf_collection_table_name(const char *collection, char *buf);
extern void rf_check_collection_table(Oid relid);

/*
 * The oid of a collection's table in a store. Checks the name (22023); when
 * the collection does not exist, creates it if create_if_missing and
 * rillflow.auto_create_collections allow, and raises RF004 otherwise.
 */
extern Oid	rf_collection_relid(const RfStore *store, const char *collection,
								bool create_if_missing);

/*
 * rillflow._empty_collection: what a read-only transaction reads for a
 * registered collection whose table does not exist yet.
 */
extern Oid	rf_empty_collection_relid(void);

#endif							/* RILLFLOW_COLLECTIONS_H */
