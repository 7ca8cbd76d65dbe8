#!/usr/bin/env bash
# The worker's projection scenarios (worker_projection.sh: both stores, read
# your writes, a handler error dead-lettered, a looping handler cut by the
# budget) again, with every projection, handler and read-model table owned by
# a login role that is not a superuser and holds only the grants
# docs/security.md documents: the worker runs every handler as that role
# (current_user is the owner, rolsuper false), never as its own role.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

owner=rf_test_owner
db=rillflow_worker_proj		# worker_projection.sh's database
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
  -c "DROP ROLE IF EXISTS $owner" -c "CREATE ROLE $owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >/dev/null

RILLFLOW_TEST_OWNER=$owner bash "$(dirname "$0")/worker_projection.sh"

# worker_projection.sh checks this too; here it is checked independently of it
seen=$(q -d $db -c "SELECT string_agg(DISTINCT usr || ':' || super, ',') FROM public.handler_roles")
[ "$seen" = "$owner:false" ] || fail "the worker ran the handlers as $seen, not as $owner (not a superuser)"
echo "ok: every handler ran as $owner, not a superuser"
echo "worker projections with a non-superuser owner: ok"
