// rillflow/tracing.hpp: OpenTelemetry spans over OTLP/HTTP with JSON encoding
// (docs/observability.md). A Tracer batches finished spans in a bounded queue and posts them
// to `{endpoint}/v1/traces` from a thread of its own: a caller never waits on the collector,
// and spans that do not fit (queue full, collector down or slow) are dropped and counted.
//
// A Store takes the process's tracer from the environment unless given one
// (StoreBuilder::tracer): OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// the full URL), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_SDK_DISABLED. With no endpoint there is no tracer and tracing costs nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rillflow/export.hpp"

namespace rillflow {

namespace detail {
struct SpanData;
class Span;
}  // namespace detail

/// @brief A span's identity as W3C Trace Context carries it.
struct RILLFLOW_EXPORT SpanContext {
    /// @brief 32 lower-case hex digits.
    std::string trace_id{};
    /// @brief 16 lower-case hex digits.
    std::string span_id{};

    /// @brief `00-<trace_id>-<span_id>-01`.
    [[nodiscard]] std::string traceparent() const;
    /// @brief The context in a `traceparent` header; std::nullopt when it is malformed (or
    /// all-zero ids, which W3C calls invalid).
    [[nodiscard]] static std::optional<SpanContext> from_traceparent(std::string_view header);
};

/// @brief How a Tracer exports.
struct RILLFLOW_EXPORT TracerOptions {
    /// @brief The collector's OTLP/HTTP base URL ("http://localhost:4318"): spans go to
    /// `{endpoint}/v1/traces`.
    std::string endpoint{};
    /// @brief When set, the full URL spans are posted to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
    std::string traces_url{};
    /// @brief The resource's `service.name`.
    std::string service_name = "rillflow";
    /// @brief More resource attributes (key, value).
    std::vector<std::pair<std::string, std::string>> resource_attributes{};
    /// @brief Extra HTTP headers of every export request (an API key, say).
    std::vector<std::pair<std::string, std::string>> headers{};
    /// @brief The most finished spans waiting for export; more are dropped (and counted).
    std::size_t max_queue = 2048;
    /// @brief The most spans in one export request.
    std::size_t max_batch = 512;
    /// @brief How often the queue is exported when it does not fill a batch first.
    std::chrono::milliseconds flush_interval{1000};
    /// @brief Connect, send and receive timeout of one export request.
    std::chrono::milliseconds timeout{2000};

    /// @brief The options the OTEL_* environment variables give; std::nullopt when no
    /// endpoint is set or OTEL_SDK_DISABLED=true.
    [[nodiscard]] static std::optional<TracerOptions> from_env();
};

/// @brief What a Tracer has done so far.
struct TracerStats {
    /// @brief Spans the collector accepted.
    std::uint64_t exported = 0;
    /// @brief Spans dropped: the queue was full, or their export request failed.
    std::uint64_t dropped = 0;
    /// @brief Export requests that failed (no connection, timeout, non-2xx answer).
    std::uint64_t failed_requests = 0;
    /// @brief Spans waiting now.
    std::size_t queued = 0;
};

/// @brief Exports spans to an OTLP/HTTP collector from a background thread. Thread-safe;
/// shared by the Stores given it (StoreBuilder::tracer()).
class RILLFLOW_EXPORT Tracer {
  public:
    /// @brief Starts the export thread. @throws InvalidArgument for a malformed endpoint.
    explicit Tracer(TracerOptions options);
    /// @brief Exports what is queued (waiting at most one timeout), then stops the thread.
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    /// @brief The process's tracer from the environment (TracerOptions::from_env()), made on
    /// the first call and shared by every Store that is not given one; nullptr when tracing
    /// is not configured.
    [[nodiscard]] static std::shared_ptr<Tracer> from_env();

    /// @brief Exports every span finished so far; false when that did not end within
    /// `timeout` (the spans are then still queued or dropped).
    bool flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    /// @brief Counters of exported and dropped spans.
    [[nodiscard]] TracerStats stats() const;
    /// @brief The options in effect.
    [[nodiscard]] const TracerOptions& options() const noexcept;

    /// @brief Queues a finished span (internal; never blocks, drops when full).
    void record(detail::SpanData&& span) noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// @brief A span of your own around rillflow calls: while it lives, the spans of the calls
/// made on this thread are its children. Ends (an error when an exception unwinds it) in its
/// destructor; a no-op with a null tracer. Use it from the thread that made it.
class RILLFLOW_EXPORT TraceScope {
  public:
    /// @brief Starts span `name` (kind internal) under the thread's current span, if any.
    TraceScope(std::shared_ptr<Tracer> tracer, std::string name);
    ~TraceScope();
    TraceScope(const TraceScope&) = delete;
    TraceScope& operator=(const TraceScope&) = delete;

    /// @brief Adds a string attribute.
    void attribute(const std::string& key, const std::string& value);
    /// @brief Marks the span failed, with `message`.
    void error(const std::string& message);
    /// @brief The span's context; std::nullopt without a tracer.
    [[nodiscard]] std::optional<SpanContext> context() const;

  private:
    std::unique_ptr<detail::Span> span_;
};

}  // namespace rillflow
