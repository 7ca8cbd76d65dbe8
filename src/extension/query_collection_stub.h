/*
 * query_collection_stub.h
 *	  TODO(docs-core): delete with query_collection_stub.c when collections.h lands.
 */
#ifndef RILLFLOW_QUERY_COLLECTION_STUB_H
#define RILLFLOW_QUERY_COLLECTION_STUB_H

#include "rillflow.h"

extern Oid	rf_collection_relid(const RfStore *store, const char *collection, bool create_if_missing);

#endif
