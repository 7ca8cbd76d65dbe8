# rillflow: PGXS build of the extension, plus the entry points for the C++
# client, the CLI, the tests and the benchmarks (built with CMake under build/).
#
#   make            build the extension            make install   install it
#   make demo       set up a fresh machine and run the quickstart on a throwaway cluster
#   make test       set up a fresh machine and run every test on a throwaway cluster
#   make bench      run the benchmarks on a throwaway cluster
#
# Folders: src/extension/ C sources and SQL parts (sql/NN_*.sql, concatenated
# into the versioned install script); sql/ + expected/ pg_regress inputs and
# outputs; regress/specs + regress/expected isolation specs and outputs.

EXTENSION = rillflow
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" rillflow.control)

MODULE_big = rillflow
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/extension/*.c)))

SQL_PARTS = $(sort $(wildcard src/extension/sql/*.sql))
DATA_built = src/extension/rillflow--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard src/extension/rillflow--*--*.sql))

PG_CPPFLAGS = -DRILLFLOW_VERSION=\"$(EXTVERSION)\" -I$(srcdir)/src/extension
ifdef RILLFLOW_WERROR
PG_CFLAGS = -Werror
endif

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=build/regress --load-extension=rillflow
ISOLATION = $(patsubst regress/specs/%.spec,%,$(sort $(wildcard regress/specs/*.spec)))
ISOLATION_OPTS = --inputdir=regress --outputdir=build/isolation --load-extension=rillflow

EXTRA_CLEAN = build/regress build/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The install script is the SQL parts in order behind the guard every script
# carries, so one version always has exactly one install script.
src/extension/rillflow--$(EXTVERSION).sql: $(SQL_PARTS) rillflow.control Makefile
	@{ echo '-- generated from src/extension/sql/*.sql by make; edit the parts, not this file'; \
	   printf '%s\n' '\echo Use "CREATE EXTENSION rillflow" to load this file. \quit'; \
	   for f in $(SQL_PARTS); do echo; echo "-- $$f"; cat $$f; done; } > $@

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
