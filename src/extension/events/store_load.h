/*-------------------------------------------------------------------------
 *
 * store_load.h
 *	  Keeps the sequencer and the projections still while a session loads a
 *	  store's tables (store_load.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_STORE_LOAD_H
#define RILLFLOW_STORE_LOAD_H

#include "postgres.h"

#include "nodes/nodes.h"

/*
 * Called by the utility hook for every statement: a COPY FROM into a store's
 * own tables marks the database as loading until the session ends.
 */
extern void rf_note_store_load(Node *parsetree);

#endif							/* RILLFLOW_STORE_LOAD_H */
