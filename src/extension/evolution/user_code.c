/*-------------------------------------------------------------------------
 *
 * user_code.c
 *	  Calling user code (upcasters, folds, validators) as the role that
 *	  registered it, security-restricted.
 *
 *	  As the projection runtime runs handlers (projections/projection_apply.c)
 *	  and as autovacuum and REFRESH MATERIALIZED VIEW run index expressions:
 *	  SetUserIdAndSecContext(owner, SECURITY_RESTRICTED_OPERATION), so the
 *	  code can neither SET ROLE back to the caller, create temporary objects
 *	  that outlive it, nor queue deferred triggers to fire as the caller; and
 *	  a GUC nest level, so settings it changes are rolled back when it
 *	  returns. On an error nothing is restored here: the abort of the
 *	  (sub)transaction that catches it restores the user id, the security
 *	  context and the nest levels.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "evolution/evolution.h"

void
rf_user_call_enter(RfUserCall *call, Oid owner)
{
	GetUserIdAndSecContext(&call->saved_userid, &call->saved_sec_context);
	SetUserIdAndSecContext(owner, call->saved_sec_context | SECURITY_RESTRICTED_OPERATION);
	call->nestlevel = NewGUCNestLevel();
}

void
rf_user_call_leave(RfUserCall *call)
{
	AtEOXact_GUC(false, call->nestlevel);
	SetUserIdAndSecContext(call->saved_userid, call->saved_sec_context);
}

/*
 * The role must exist and may execute the function (42704, 42883, 42501):
 * user code is never run as anyone else.
 */
void
rf_check_user_function(Oid fn, Oid owner, const char *what)
{
	char	   *owner_name = GetUserNameFromId(owner, true);
	char	   *fn_name;

	if (owner_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of %s function %u no longer exists", what, fn),
				 errdetail("User code runs only as the role that registered it."),
				 errhint("Register it again as an existing role.")));
	/* InvalidOid: the stored signature names no function (rillflow._function_ref) */
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("%s function no longer exists", what),
				 errdetail("The function it was registered with was dropped, renamed or moved to another schema."),
				 errhint("Create it again with the same signature, or register it again.")));
	fn_name = format_procedure_extended(fn, FORMAT_PROC_INVALID_AS_NULL);
	if (fn_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("%s function %u no longer exists", what, fn),
				 errhint("Register it again with an existing function.")));
	if (pg_proc_aclcheck(fn, owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role %s may not execute %s %s", quote_identifier(owner_name), what, fn_name),
				 errdetail("User code runs as the role that registered it, which must have EXECUTE on it."),
				 errhint("Grant EXECUTE on the function to %s.", quote_identifier(owner_name))));
	InvokeFunctionExecuteHook(fn);
}
