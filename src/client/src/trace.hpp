// trace.hpp (private): spans (tracing.hpp) and breadcrumbs (breadcrumbs.hpp) as the client's
// calls record them. An Operation is both: made at the start of a call, given what the call
// acts on, and on destruction it ends its span and adds its breadcrumb. Both cost nothing
// when the Store has neither a tracer nor breadcrumbs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/breadcrumbs.hpp"
#include "rillflow/events.hpp"
#include "rillflow/tracing.hpp"

namespace rillflow::detail {

struct StoreState;

/// OTLP span kinds.
enum class SpanKind { Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 };

/// A finished span, as OTLP/JSON encodes its parts.
struct SpanData {
    std::string trace_id, span_id, parent_span_id, name;
    SpanKind kind = SpanKind::Internal;
    std::uint64_t start_ns = 0, end_ns = 0;
    nlohmann::json attributes = nlohmann::json::array();  // [{"key", "value": {...}}]
    nlohmann::json links = nlohmann::json::array();       // [{"traceId", "spanId"}]
    bool error = false;
    std::string status_message;
};

/// A span being recorded; inactive (every call a no-op) without a tracer. While active it is
/// the thread's current span: spans begun meanwhile on the thread are its children. Ends in
/// its destructor (as an error when an exception is unwinding it) unless end() ran first.
class Span {
  public:
    Span() = default;
    /// `parent`: this span's parent; std::nullopt: the thread's current span, if any.
    Span(std::shared_ptr<Tracer> tracer, std::string name, SpanKind kind,
         std::optional<SpanContext> parent = std::nullopt);
    ~Span() { end(); }
    /// Starts recording (ending what this span recorded before); as the constructor.
    void begin(std::shared_ptr<Tracer> tracer, std::string name, SpanKind kind,
               std::optional<SpanContext> parent = std::nullopt);
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;

    bool active() const noexcept { return tracer_ != nullptr; }
    const SpanContext& context() const noexcept { return context_; }
    void attribute(const std::string& key, const std::string& value);
    void attribute(const std::string& key, std::int64_t value);
    /// A link to another span (a batch's events' appends); at most 128 are kept.
    void link(const SpanContext& other);
    /// Links to the spans in the events' `traceparent` headers (each once).
    void link_events(const std::vector<EventEnvelope>& events);
    void error(const std::string& message);
    void end() noexcept;
    /// Ends without recording anything.
    void discard() noexcept;

    /// The thread's current span's context, if any.
    static const SpanContext* current() noexcept;

  private:
    std::shared_ptr<Tracer> tracer_;
    SpanData data_;
    SpanContext context_;
    const SpanContext* previous_ = nullptr;
    int uncaught_ = 0;
};

/// The ring of a Store's breadcrumbs.
struct BreadcrumbRing {
    explicit BreadcrumbRing(std::size_t n) : capacity(n) {}
    const std::size_t capacity;
    mutable std::mutex mutex;
    std::deque<Breadcrumb> entries;
    void add(Breadcrumb b);
};

/// The tenant a call on `store` acts on, for labels ("" the default store); never throws.
std::string tenant_label(const StoreState& store) noexcept;

/// One call of the client: a span (kind Client, `db.system` postgresql, the tenant) and a
/// breadcrumb, each when the Store has them.
class Operation {
  public:
    Operation(const StoreState& store, const char* operation, SpanKind kind = SpanKind::Client);
    ~Operation();
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

    bool tracing() const noexcept { return span_.active(); }
    Span& span() noexcept { return span_; }
    void stream(const Uuid& id);
    void collection(const std::string& name);
    void events(const std::vector<EventData>& events);
    void events(const std::vector<EventEnvelope>& events);
    /// Events (or, with another attribute, documents) the call wrote or read.
    void count(std::int64_t n, const char* attribute = "rillflow.event_count");
    void ids(const std::optional<Uuid>& causation, const std::optional<Uuid>& correlation);
    /// Records neither span nor breadcrumb.
    void discard() noexcept {
        span_.discard();
        crumb_.reset();
    }
    /// The span's W3C traceparent, when tracing.
    std::optional<std::string> traceparent() const;

  private:
    void add_type(const std::string& type);
    Span span_;
    std::shared_ptr<BreadcrumbRing> ring_;
    std::optional<Breadcrumb> crumb_;
    std::chrono::steady_clock::time_point started_;
    int uncaught_ = 0;
};

}  // namespace rillflow::detail
