/*-------------------------------------------------------------------------
 *
 * errcodes.h
 *	  rillflow's domain SQLSTATEs, class RF (see docs/sql-reference.md).
 *
 *	  Clients map each to its own exception type, so a code never changes
 *	  meaning once released. SQL raises the same codes as literals ('RF004').
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_ERRCODES_H
#define RILLFLOW_ERRCODES_H

#include "postgres.h"

#define ERRCODE_RF_VERSION_CONFLICT			MAKE_SQLSTATE('R','F','0','0','1')
#define ERRCODE_RF_IDEMPOTENCY_CONFLICT		MAKE_SQLSTATE('R','F','0','0','2')
#define ERRCODE_RF_DOCUMENT_VERSION_CONFLICT MAKE_SQLSTATE('R','F','0','0','3')
#define ERRCODE_RF_NOT_FOUND				MAKE_SQLSTATE('R','F','0','0','4')
#define ERRCODE_RF_TENANT_NOT_FOUND			MAKE_SQLSTATE('R','F','0','0','5')
#define ERRCODE_RF_LEASE_LOST				MAKE_SQLSTATE('R','F','0','0','6')
#define ERRCODE_RF_TENANT_NOT_EMPTY			MAKE_SQLSTATE('R','F','0','0','7')
#define ERRCODE_RF_STREAM_ARCHIVED			MAKE_SQLSTATE('R','F','0','0','8')

#endif							/* RILLFLOW_ERRCODES_H */
