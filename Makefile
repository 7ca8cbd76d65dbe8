# rillflow: PGXS build of the extension, plus the entry points for the C++
# client, the CLI, the tests and the benchmarks (built with CMake under build/).
#
#   make            build the extension            make install   install it
#   make demo       set up a fresh machine and run the quickstart on a throwaway cluster
#   make test       set up a fresh machine and run every test on a throwaway cluster
#   make bench      run the benchmarks on a throwaway cluster
#
# Folders: src/extension/<subsystem>/ (core, events, documents, query,
# projections, evolution, subscriptions, archive, worker) hold each subsystem's C sources and headers, its SQL parts
# under <subsystem>/sql/, and a README of its invariants; the parts, in the
# order SQL_PARTS gives, make the versioned install script. sql/ + expected/
# pg_regress inputs and outputs; regress/specs + regress/expected isolation
# specs and outputs.

EXTENSION = rillflow
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" rillflow.control)

# Every C file and SQL part is listed here, by subsystem: a new file is added
# on purpose, and the install script's order is written down, not implied by
# file names.
MODULE_big = rillflow
OBJS = \
	src/extension/core/rillflow.o \
	src/extension/core/store.o \
	src/extension/core/plans.o \
	src/extension/core/shmem.o \
	src/extension/core/utility.o \
	src/extension/core/json.o \
	src/extension/events/append.o \
	src/extension/events/event_input.o \
	src/extension/events/event_ids.o \
	src/extension/events/reads.o \
	src/extension/events/log_page.o \
	src/extension/events/log_segments.o \
	src/extension/events/sequencer.o \
	src/extension/events/log_sync.o \
	src/extension/events/ticker.o \
	src/extension/events/compat.o \
	src/extension/events/store_load.o \
	src/extension/documents/documents_init.o \
	src/extension/documents/collections.o \
	src/extension/documents/documents.o \
	src/extension/documents/doc_path.o \
	src/extension/documents/doc_fields.o \
	src/extension/documents/doc_transform.o \
	src/extension/query/query_parse.o \
	src/extension/query/query_sql.o \
	src/extension/query/query_fields.o \
	src/extension/query/query_exec.o \
	src/extension/query/query_compiled.o \
	src/extension/projections/names.o \
	src/extension/projections/projection_apply.o \
	src/extension/projections/projection_runtime.o \
	src/extension/projections/wait.o \
	src/extension/projections/function_refs.o \
	src/extension/evolution/user_code.o \
	src/extension/evolution/upcast.o \
	src/extension/evolution/aggregates.o \
	src/extension/subscriptions/categories.o \
	src/extension/subscriptions/sync.o \
	src/extension/subscriptions/poll.o \
	src/extension/subscriptions/poll_commit.o \
	src/extension/archive/archive.o \
	src/extension/worker/worker.o \
	src/extension/worker/worker_launcher.o \
	src/extension/worker/worker_db.o \
	src/extension/worker/worker_ddl.o \
	src/extension/worker/worker_status.o

# The SQL comes in three kinds (docs/upgrades.md):
#  - CATALOG_PARTS: the types and tables of schema rillflow, created once by
#    the install script; an upgrade script alters them in its own prelude.
#  - STORE_STEPS: a store's DDL, as numbered steps (src/extension/store/);
#    rillflow._store_migrate applies the ones a store lacks. A released step
#    never changes: a change to stores is a new step at the end.
#  - CODE_PARTS: functions and grants, all re-runnable (CREATE OR REPLACE), in
#    the install script and again in every upgrade script, so an upgrade
#    always ends with exactly the functions a fresh install has.
CATALOG_PARTS = \
	src/extension/core/sql/catalog.sql \
	src/extension/core/sql/stores_catalog.sql

STORE_STEPS = \
	src/extension/store/0001_events.sql \
	src/extension/store/0002_documents.sql \
	src/extension/store/0003_projections.sql \
	src/extension/store/0004_daemon.sql \
	src/extension/store/0005_owners.sql \
	src/extension/store/0006_evolution.sql \
	src/extension/store/0007_subscriptions.sql \
	src/extension/store/0008_function_refs.sql \
	src/extension/store/0009_cluster_standbys.sql \
	src/extension/store/0010_subscription_batches.sql \
	src/extension/store/0011_archive.sql \
	src/extension/store/0012_log_segments.sql

# names.sql comes before the catalog, whose tables check names with it.
EARLY_CODE_PARTS = src/extension/core/sql/names.sql
CODE_PARTS = \
	src/extension/core/sql/store.sql \
	src/extension/core/sql/store_shape.sql \
	src/extension/core/sql/schema_sync.sql \
	src/extension/core/sql/tenants.sql \
	src/extension/events/sql/sequencer.sql \
	src/extension/events/sql/events.sql \
	src/extension/documents/sql/collections.sql \
	src/extension/documents/sql/documents.sql \
	src/extension/documents/sql/duplicated_fields.sql \
	src/extension/documents/sql/index_advisor.sql \
	src/extension/documents/sql/read_only.sql \
	src/extension/query/sql/queries.sql \
	src/extension/projections/sql/store.sql \
	src/extension/projections/sql/function_refs.sql \
	src/extension/projections/sql/rules.sql \
	src/extension/projections/sql/registry.sql \
	src/extension/projections/sql/status.sql \
	src/extension/projections/sql/dead_letters.sql \
	src/extension/projections/sql/leases.sql \
	src/extension/projections/sql/runtime.sql \
	src/extension/projections/sql/admin.sql \
	src/extension/projections/sql/daemon_cluster.sql \
	src/extension/evolution/sql/store.sql \
	src/extension/evolution/sql/upcasters.sql \
	src/extension/evolution/sql/snapshots.sql \
	src/extension/evolution/sql/aggregates.sql \
	src/extension/subscriptions/sql/rules.sql \
	src/extension/subscriptions/sql/subscriptions.sql \
	src/extension/subscriptions/sql/poll.sql \
	src/extension/subscriptions/sql/groups.sql \
	src/extension/subscriptions/sql/lag.sql \
	src/extension/archive/sql/archive.sql \
	src/extension/archive/sql/backend.sql \
	src/extension/worker/sql/worker.sql \
	src/extension/worker/sql/maintenance.sql \
	src/extension/core/sql/tenant_lifecycle.sql \
	src/extension/observability/sql/metrics.sql \
	src/extension/observability/sql/trace_mermaid.sql

# The install script: the catalog, the steps, the code, the default store,
# then who may execute what (privileges.sql sees every function).
INSTALL_PARTS = src/extension/core/sql/guard.sql $(EARLY_CODE_PARTS) $(CATALOG_PARTS) \
	build/sql/store_steps.sql $(CODE_PARTS) \
	src/extension/core/sql/default_store.sql src/extension/core/sql/privileges.sql

# The upgrade from the released 0.1.0 (src/extension/released/): its own
# prelude, the new catalog, the steps and the code, then every store migrated.
UPGRADE_0_1_0_PARTS = src/extension/upgrade/0.1.0--0.2.0.sql $(EARLY_CODE_PARTS) \
	src/extension/core/sql/stores_catalog.sql build/sql/store_steps.sql $(CODE_PARTS) \
	src/extension/upgrade/0.1.0--0.2.0-stores.sql src/extension/core/sql/privileges.sql

SQL_PARTS = src/extension/core/sql/guard.sql $(EARLY_CODE_PARTS) $(CATALOG_PARTS) $(STORE_STEPS) $(CODE_PARTS) \
	src/extension/core/sql/default_store.sql src/extension/core/sql/privileges.sql
DATA_built = src/extension/rillflow--$(EXTVERSION).sql src/extension/rillflow--0.1.0--$(EXTVERSION).sql
DATA = src/extension/released/rillflow--0.1.0.sql

PG_CPPFLAGS = -DRILLFLOW_VERSION=\"$(EXTVERSION)\" -I$(srcdir)/src/extension
ifdef RILLFLOW_WERROR
PG_CFLAGS = -Werror
endif

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=build/regress --load-extension=rillflow
ISOLATION = $(patsubst regress/specs/%.spec,%,$(sort $(wildcard regress/specs/*.spec)))
ISOLATION_OPTS = --inputdir=regress --outputdir=build/isolation --load-extension=rillflow

EXTRA_CLEAN = build/regress build/isolation build/sql

PG_CONFIG ?= pg_config
# Header dependencies: without them an incremental build after a header
# change (shmem.h, say) links stale objects into a server that misbehaves.
override autodepend = yes

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Each script is its parts in order behind the guard every script carries.
define rf_script
	@mkdir -p $(dir $@)
	@{ echo '-- generated by make from the Makefile'"'"'s lists of SQL parts; edit the parts, not this file'; \
	   printf '%s\n' '\echo Use "$(1)" to load this file. \quit'; \
	   for f in $(2); do echo; echo "-- $$f"; cat $$f; done; } > $@
endef

src/extension/rillflow--$(EXTVERSION).sql: $(INSTALL_PARTS) rillflow.control Makefile
	$(call rf_script,CREATE EXTENSION rillflow,$(INSTALL_PARTS))

src/extension/rillflow--0.1.0--$(EXTVERSION).sql: $(UPGRADE_0_1_0_PARTS) rillflow.control Makefile
	$(call rf_script,ALTER EXTENSION rillflow UPDATE,$(UPGRADE_0_1_0_PARTS))

# The steps as rows of rillflow.store_steps: version N is the Nth file of
# STORE_STEPS. ON CONFLICT DO NOTHING: an upgrade script adds the steps its
# database lacks (a released step never changes).
build/sql/store_steps.sql: $(STORE_STEPS) Makefile
	@mkdir -p $(dir $@)
	@{ echo '-- The store steps (src/extension/store/), as rows for rillflow._store_migrate.'; \
	   n=0; for f in $(STORE_STEPS); do n=$$((n + 1)); \
	     if grep -q '\$$rfstep\$$' $$f; then echo "$$f must not contain \$$rfstep\$$" >&2; exit 1; fi; \
	     echo "INSERT INTO rillflow.store_steps (version, name, ddl) VALUES ($$n, '$$(basename $$f .sql)', \$$rfstep\$$"; \
	     cat $$f; echo "\$$rfstep\$$) ON CONFLICT (version) DO NOTHING;"; done; } > $@

installcheck: | build/regress build/isolation
build/regress build/isolation:
	mkdir -p $@

.PHONY: demo test bench client format
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/bench.sh
client:
	bash scripts/build-client.sh
format:
	clang-format -i $$(git ls-files 'src/client/*.cpp' 'src/client/*.hpp' 'cli/*.cpp' 'cli/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')
