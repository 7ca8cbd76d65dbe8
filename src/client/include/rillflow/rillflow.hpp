// rillflow/rillflow.hpp: the whole public API of the rillflow C++ client.
#pragma once

#include "rillflow/documents.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/events.hpp"
#include "rillflow/evolution.hpp"
#include "rillflow/observability.hpp"
#include "rillflow/projection_daemon.hpp"
#include "rillflow/projections.hpp"
#include "rillflow/schema.hpp"
#include "rillflow/session.hpp"
#include "rillflow/sql.hpp"
#include "rillflow/sqlstate.hpp"
#include "rillflow/subscriptions.hpp"
#include "rillflow/store.hpp"
#include "rillflow/transaction.hpp"
#include "rillflow/uuid.hpp"
