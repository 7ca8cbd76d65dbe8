#!/usr/bin/env bash
# make test: set up a fresh machine, build everything, start a throwaway
# cluster, run every test (pg_regress, isolation specs, GoogleTest client and
# CLI tests, the stress test, the dump/restore round trip, the background
# worker tests), stop the cluster,
# and end with one line: "N passed, M failed".
set -uo pipefail
source "$(dirname "$0")/common.sh"

rf_setup || { echo "rillflow: set-up failed"; echo "0 passed, 1 failed"; exit 1; }
trap 'bash scripts/cluster.sh standby-destroy; bash scripts/cluster.sh stop; RILLFLOW_CLUSTER=pg2 bash scripts/cluster.sh destroy' EXIT
rf_start_cluster || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
failures=()
count_pg_regress() {	# tally "... ok" / "... FAILED" lines of a pg_regress log
    local log=$1 ok bad
    ok=$(grep -cE '\.\.\. ok' "$log" || true)
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$log" || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
}

# The isolation specs assume nobody else ticks the sequencer, and
# dump_restore.sh dumps events the worker would sequence first: those run with
# the background worker off; the GoogleTest and worker tests with it on.
source tests/shell/lib/preamble.sh
source tests/shell/lib/worker.sh
switch_worker() {
    if ! (worker_switch "$1"); then
        failed=$((failed + 1)); failures+=("worker-$1")
    fi
}

echo "== pg_regress and isolation specs (background worker off)"
switch_worker off
rm -rf build/regress build/isolation
make -s installcheck >build/installcheck.log 2>&1
rc=$?
cat build/installcheck.log
count_pg_regress build/installcheck.log
if [ $rc -ne 0 ]; then
    for d in build/regress build/isolation; do
        [ -f $d/regression.diffs ] && { echo "== $d/regression.diffs"; cat $d/regression.diffs; }
    done
    grep -qE '\.\.\. FAILED|\.\.\. failed' build/installcheck.log || { failed=$((failed + 1)); failures+=(installcheck); }
fi

echo "== GoogleTest: client, CLI and stress tests (background worker on)"
switch_worker on
export DATABASE_URL
DATABASE_URL=$(rf_fresh_database rillflow_ctest)
# A streaming standby of the test cluster, for the read-replica tests (replica_test.cpp).
export RILLFLOW_REPLICA_URL RILLFLOW_REQUIRE_REPLICA=1
if standby_port=$(bash scripts/cluster.sh standby | tail -n 1); then
    RILLFLOW_REPLICA_URL="postgresql://postgres@/rillflow_ctest?host=$PGHOST&port=$standby_port"
else
    echo "rillflow: the standby for the read-replica tests did not start"
    RILLFLOW_REPLICA_URL=
fi
ctest --test-dir build/cmake --output-on-failure --timeout 300 >build/ctest.log 2>&1
rc=$?
cat build/ctest.log
summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' build/ctest.log | tail -n 1)
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/.* out of ([0-9]+).*/\1/')
    bad=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
    passed=$((passed + total - bad))
    failed=$((failed + bad))
elif [ $rc -ne 0 ]; then
    failed=$((failed + 1)); failures+=(ctest)
fi

run_shell_test() {
    local t=$1
    if bash "$t" >"build/$(basename "$t").log" 2>&1; then
        echo "ok   $t"
        passed=$((passed + 1))
    else
        echo "FAIL $t"
        cat "build/$(basename "$t").log"
        failed=$((failed + 1))
        failures+=("$t")
    fi
}

bash scripts/cluster.sh standby-destroy
unset RILLFLOW_REPLICA_URL RILLFLOW_REQUIRE_REPLICA

echo "== shell tests (background worker off)"
switch_worker off
for t in tests/shell/*.sh; do
    [ -e "$t" ] || continue
    case "$(basename "$t")" in worker_*) continue ;; esac
    # a second cluster a test starts (dump_restore.sh) runs without it too
    RILLFLOW_WORKER_ENABLED=off run_shell_test "$t"
done

echo "== worker tests (background worker on)"
switch_worker on
for t in tests/shell/worker_*.sh; do
    [ -e "$t" ] || continue
    run_shell_test "$t"
done

echo
[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
