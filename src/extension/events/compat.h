/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Serving a database whose extension SQL is an older version than the
 *	  library (events/compat.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_COMPAT_H
#define RILLFLOW_COMPAT_H

#include "postgres.h"

extern char *rf_installed_extension_version(void);
extern bool rf_extension_is_current(void);
extern void rf_require_current_extension(void);

#endif							/* RILLFLOW_COMPAT_H */
