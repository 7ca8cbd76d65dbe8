/*-------------------------------------------------------------------------
 *
 * utility.h
 *	  rillflow's ProcessUtility hook (utility.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_UTILITY_H
#define RILLFLOW_UTILITY_H

#include "postgres.h"

/* Install the hook; from _PG_init, while preloading. */
extern void rf_utility_init(void);

#endif							/* RILLFLOW_UTILITY_H */
