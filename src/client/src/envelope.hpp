// envelope.hpp (private): reading rillflow.event_envelope rows, shared by the event API
// (events.cpp) and subscriptions (subscriptions.cpp).
#pragma once

#include <vector>

#include "rillflow/events.hpp"
#include "rillflow/sql.hpp"

// Every column of rillflow.event_envelope (a row source aliased `e`), created_at as
// microseconds since the Unix epoch so that no DateStyle or TimeZone setting can change how
// it reads. envelopes() reads these columns in this order.
#define RILLFLOW_ENVELOPE_COLUMNS                                                              \
    "SELECT e.\"position\", e.stream_id, e.\"version\", e.\"type\", e.event_version, e.body, " \
    "e.headers, e.event_id, e.causation_id, e.correlation_id, "                                \
    "(extract(epoch FROM e.created_at) * 1000000)::bigint "

namespace rillflow::detail {

/// The rows of a RILLFLOW_ENVELOPE_COLUMNS statement.
std::vector<EventEnvelope> envelopes(const Result& r);

}  // namespace rillflow::detail
