// tracing.cpp: the OTLP/HTTP JSON exporter (Tracer), spans, and the Operation that records a
// call's span and breadcrumb. The exporter's one thread takes up to max_batch spans from the
// queue, encodes them as an ExportTraceServiceRequest in JSON and posts them with
// cpp-httplib; callers only ever take the queue's mutex for a push.
#include "rillflow/tracing.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "pool.hpp"
#include "rillflow/errors.hpp"
#include "trace.hpp"

namespace rillflow {

namespace {

bool is_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string random_hex(std::size_t bytes) {
    thread_local std::mt19937_64 rng([] {
        std::random_device rd;
        std::seed_seq seq{
            rd(), rd(), rd(), rd(),
            static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
        return std::mt19937_64(seq);
    }());
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    while (out.size() < bytes * 2) {
        std::uint64_t v = rng();
        for (int i = 0; i < 16 && out.size() < bytes * 2; ++i, v >>= 4) out += digits[v & 0xF];
    }
    if (out.find_first_not_of('0') == std::string::npos) out[0] = '1';  // all-zero is invalid
    return out;
}

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// "k1=v1,k2=v2" (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded.
std::vector<std::pair<std::string, std::string>> key_values(const char* text) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!text) return out;
    std::string s(text);
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        const std::string item = s.substr(start, comma - start);
        const std::size_t eq = item.find('=');
        if (eq != std::string::npos) {
            std::string key = trim(item.substr(0, eq));
            std::string raw = trim(item.substr(eq + 1)), value;
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '%' && i + 2 < raw.size() &&
                    std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                    std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
                    value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
                    i += 2;
                } else {
                    value += raw[i];
                }
            }
            if (!key.empty()) out.emplace_back(std::move(key), std::move(value));
        }
        start = comma + 1;
    }
    return out;
}

nlohmann::json string_attribute(const std::string& key, const std::string& value) {
    return {{"key", key}, {"value", {{"stringValue", value}}}};
}

// "http://host:4318/prefix" -> ("http://host:4318", "/prefix").
std::pair<std::string, std::string> split_url(const std::string& url) {
    const std::size_t scheme = url.find("://");
    if (scheme == std::string::npos || url.size() == scheme + 3) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "OTLP endpoint \"" + url + "\" is not a URL",
                              "Give scheme, host and port, e.g. http://localhost:4318.");
    }
    const std::size_t slash = url.find('/', scheme + 3);
    if (slash == std::string::npos) return {url, ""};
    std::string path = url.substr(slash);
    while (!path.empty() && path.back() == '/') path.pop_back();
    return {url.substr(0, slash), path};
}

}  // namespace

std::string SpanContext::traceparent() const { return "00-" + trace_id + "-" + span_id + "-01"; }

std::optional<SpanContext> SpanContext::from_traceparent(std::string_view h) {
    // version(2)-trace(32)-span(16)-flags(2); later versions may append fields.
    if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
    if (h.size() > 55 && h[55] != '-') return std::nullopt;
    const std::string_view version = h.substr(0, 2), trace = h.substr(3, 32),
                           span = h.substr(36, 16), flags = h.substr(53, 2);
    if (!is_hex(version) || version == "ff" || !is_hex(trace) || !is_hex(span) || !is_hex(flags))
        return std::nullopt;
    if (trace.find_first_not_of('0') == std::string_view::npos ||
        span.find_first_not_of('0') == std::string_view::npos)
        return std::nullopt;
    return SpanContext{std::string(trace), std::string(span)};
}

std::optional<TracerOptions> TracerOptions::from_env() {
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? trim(v) : std::string();
    };
    std::string disabled = env("OTEL_SDK_DISABLED");
    std::transform(disabled.begin(), disabled.end(), disabled.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (disabled == "true") return std::nullopt;
    TracerOptions o;
    o.endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT");
    o.traces_url = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if (o.endpoint.empty() && o.traces_url.empty()) return std::nullopt;
    for (auto& kv : key_values(std::getenv("OTEL_RESOURCE_ATTRIBUTES"))) {
        if (kv.first == "service.name")
            o.service_name = kv.second;
        else
            o.resource_attributes.push_back(std::move(kv));
    }
    if (!env("OTEL_SERVICE_NAME").empty()) o.service_name = env("OTEL_SERVICE_NAME");
    o.headers = key_values(std::getenv("OTEL_EXPORTER_OTLP_HEADERS"));
    return o;
}

struct Tracer::Impl {
    TracerOptions options;
    std::string base, path;
    nlohmann::json resource;

    mutable std::mutex mutex;
    std::condition_variable wake;     // the exporter: a batch is full, a flush, or stop
    std::condition_variable drained;  // flush(): an export round ended
    std::deque<detail::SpanData> queue;
    bool stop = false;
    std::uint64_t flush_requests = 0;  // flush() asks for everything queued to go out
    std::uint64_t rounds = 0;          // export rounds ended (each may have sent nothing)
    bool in_flight = false;
    std::atomic<std::uint64_t> exported{0}, dropped{0}, failed{0};
    std::thread thread;

    void run();
    bool post(std::vector<detail::SpanData>& spans);
};

Tracer::Tracer(TracerOptions options) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    if (options.max_queue == 0 || options.max_batch == 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "Tracer: max_queue and max_batch must be at least 1");
    }
    if (!options.traces_url.empty()) {
        std::tie(s.base, s.path) = split_url(options.traces_url);
        if (s.path.empty()) s.path = "/";
    } else {
        std::tie(s.base, s.path) = split_url(options.endpoint);
        s.path += "/v1/traces";
    }
    nlohmann::json attrs = nlohmann::json::array();
    attrs.push_back(string_attribute("service.name", options.service_name));
    attrs.push_back(string_attribute("telemetry.sdk.name", "rillflow"));
    attrs.push_back(string_attribute("telemetry.sdk.language", "cpp"));
    for (const auto& [k, v] : options.resource_attributes) attrs.push_back(string_attribute(k, v));
    s.resource = {{"attributes", std::move(attrs)}};
    s.options = std::move(options);
    s.thread = std::thread([&s] { s.run(); });
}

Tracer::~Tracer() {
    flush(impl_->options.timeout);
    {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        impl_->stop = true;
    }
    impl_->wake.notify_all();
    impl_->thread.join();
}

std::shared_ptr<Tracer> Tracer::from_env() {
    // One per process: the environment is the process's. Made once, kept until exit, when
    // its destructor exports what is left.
    static const std::shared_ptr<Tracer> tracer = []() -> std::shared_ptr<Tracer> {
        std::optional<TracerOptions> o = TracerOptions::from_env();
        if (!o) return nullptr;
        try {
            return std::make_shared<Tracer>(std::move(*o));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "rillflow: tracing off: %s\n", e.what());
            return nullptr;
        }
    }();
    return tracer;
}

const TracerOptions& Tracer::options() const noexcept { return impl_->options; }

TracerStats Tracer::stats() const {
    TracerStats out;
    out.exported = impl_->exported.load();
    out.dropped = impl_->dropped.load();
    out.failed_requests = impl_->failed.load();
    std::lock_guard<std::mutex> lock(impl_->mutex);
    out.queued = impl_->queue.size();
    return out;
}

void Tracer::record(detail::SpanData&& span) noexcept {
    Impl& s = *impl_;
    bool full_batch = false;
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        if (s.stop || s.queue.size() >= s.options.max_queue) {
            s.dropped.fetch_add(1);
            return;
        }
        try {
            s.queue.push_back(std::move(span));
        } catch (...) {
            s.dropped.fetch_add(1);
            return;
        }
        full_batch = s.queue.size() >= s.options.max_batch;
    }
    if (full_batch) s.wake.notify_one();
}

bool Tracer::flush(std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    std::unique_lock<std::mutex> lock(s.mutex);
    const std::uint64_t target = s.rounds + 1;  // a round that ended after this call
    ++s.flush_requests;
    s.wake.notify_one();
    return s.drained.wait_for(lock, timeout, [&] {
        return s.stop || (s.queue.empty() && !s.in_flight && s.rounds >= target);
    });
}

void Tracer::Impl::run() {
    std::unique_lock<std::mutex> lock(mutex);
    std::uint64_t flushes_seen = 0;
    for (;;) {
        wake.wait_for(lock, options.flush_interval, [&] {
            return stop || queue.size() >= options.max_batch || flush_requests != flushes_seen;
        });
        flushes_seen = flush_requests;
        // Everything queued, a batch at a time (a flush, the interval, or a full batch).
        do {
            std::vector<detail::SpanData> batch;
            while (!queue.empty() && batch.size() < options.max_batch) {
                batch.push_back(std::move(queue.front()));
                queue.pop_front();
            }
            if (!batch.empty()) {
                in_flight = true;
                lock.unlock();
                const std::size_t n = batch.size();
                if (post(batch)) {
                    exported.fetch_add(n);
                } else {
                    failed.fetch_add(1);
                    dropped.fetch_add(n);
                }
                lock.lock();
                in_flight = false;
            }
        } while (!queue.empty() && !stop);
        ++rounds;
        drained.notify_all();
        if (stop) {
            dropped.fetch_add(queue.size());
            queue.clear();
            return;
        }
    }
}

// One ExportTraceServiceRequest (OTLP/JSON: ids in hex, 64-bit integers as strings).
bool Tracer::Impl::post(std::vector<detail::SpanData>& spans) {
    nlohmann::json out = nlohmann::json::array();
    for (detail::SpanData& d : spans) {
        nlohmann::json span = {{"traceId", d.trace_id},
                               {"spanId", d.span_id},
                               {"name", d.name},
                               {"kind", static_cast<int>(d.kind)},
                               {"startTimeUnixNano", std::to_string(d.start_ns)},
                               {"endTimeUnixNano", std::to_string(d.end_ns)},
                               {"attributes", std::move(d.attributes)}};
        if (!d.parent_span_id.empty()) span["parentSpanId"] = d.parent_span_id;
        if (!d.links.empty()) span["links"] = std::move(d.links);
        if (d.error)
            span["status"] = {{"code", 2}, {"message", d.status_message}};
        else
            span["status"] = {{"code", 0}};
        out.push_back(std::move(span));
    }
    const nlohmann::json request = {
        {"resourceSpans",
         {{{"resource", resource},
           {"scopeSpans",
            {{{"scope", {{"name", "rillflow"}, {"version", RILLFLOW_CLIENT_VERSION}}},
              {"spans", std::move(out)}}}}}}}};
    try {
        httplib::Client client(base);
        const auto secs = [](std::chrono::milliseconds t) {
            return std::pair<time_t, time_t>(static_cast<time_t>(t.count() / 1000),
                                             static_cast<time_t>((t.count() % 1000) * 1000));
        };
        const auto [sec, usec] = secs(options.timeout);
        client.set_connection_timeout(sec, usec);
        client.set_read_timeout(sec, usec);
        client.set_write_timeout(sec, usec);
        httplib::Headers headers;
        for (const auto& [k, v] : options.headers) headers.emplace(k, v);
        auto res = client.Post(path, headers, request.dump(), "application/json");
        return res && res->status >= 200 && res->status < 300;
    } catch (...) {
        return false;
    }
}

TraceScope::TraceScope(std::shared_ptr<Tracer> tracer, std::string name) {
    if (tracer)
        span_ = std::make_unique<detail::Span>(std::move(tracer), std::move(name),
                                               detail::SpanKind::Internal);
}

TraceScope::~TraceScope() = default;

void TraceScope::attribute(const std::string& key, const std::string& value) {
    if (span_) span_->attribute(key, value);
}

void TraceScope::error(const std::string& message) {
    if (span_) span_->error(message);
}

std::optional<SpanContext> TraceScope::context() const {
    if (!span_ || !span_->active()) return std::nullopt;
    return span_->context();
}

namespace detail {

namespace {
thread_local const SpanContext* t_current = nullptr;
}

const SpanContext* Span::current() noexcept { return t_current; }

Span::Span(std::shared_ptr<Tracer> tracer, std::string name, SpanKind kind,
           std::optional<SpanContext> parent) {
    begin(std::move(tracer), std::move(name), kind, std::move(parent));
}

void Span::begin(std::shared_ptr<Tracer> tracer, std::string name, SpanKind kind,
                 std::optional<SpanContext> parent) {
    end();
    tracer_ = std::move(tracer);
    if (!tracer_) return;
    if (!parent && t_current) parent = *t_current;
    context_.trace_id = parent ? parent->trace_id : random_hex(16);
    context_.span_id = random_hex(8);
    data_.trace_id = context_.trace_id;
    data_.span_id = context_.span_id;
    if (parent) data_.parent_span_id = parent->span_id;
    data_.name = std::move(name);
    data_.kind = kind;
    data_.start_ns = now_ns();
    previous_ = t_current;
    t_current = &context_;
    uncaught_ = std::uncaught_exceptions();
}

void Span::attribute(const std::string& key, const std::string& value) {
    if (tracer_) data_.attributes.push_back(string_attribute(key, value));
}

void Span::attribute(const std::string& key, std::int64_t value) {
    if (tracer_)
        data_.attributes.push_back(
            {{"key", key}, {"value", {{"intValue", std::to_string(value)}}}});
}

void Span::link(const SpanContext& other) {
    if (!tracer_ || data_.links.size() >= 128) return;
    for (const auto& l : data_.links)
        if (l["spanId"] == other.span_id && l["traceId"] == other.trace_id) return;
    data_.links.push_back({{"traceId", other.trace_id}, {"spanId", other.span_id}});
}

void Span::link_events(const std::vector<EventEnvelope>& events) {
    if (!tracer_) return;
    for (const EventEnvelope& e : events) {
        if (!e.headers.is_object()) continue;
        auto it = e.headers.find("traceparent");
        if (it == e.headers.end() || !it->is_string()) continue;
        if (auto ctx = SpanContext::from_traceparent(it->get<std::string>())) link(*ctx);
    }
}

void Span::error(const std::string& message) {
    if (!tracer_) return;
    data_.error = true;
    data_.status_message = message;
}

void Span::end() noexcept {
    if (!tracer_) return;
    if (std::uncaught_exceptions() > uncaught_ && !data_.error) {
        data_.error = true;
        data_.status_message = "exception";
    }
    data_.end_ns = now_ns();
    if (t_current == &context_) t_current = previous_;
    std::shared_ptr<Tracer> tracer = std::move(tracer_);
    tracer_.reset();
    tracer->record(std::move(data_));
}

void Span::discard() noexcept {
    if (!tracer_) return;
    if (t_current == &context_) t_current = previous_;
    tracer_.reset();
}

std::string tenant_label(const StoreState& store) noexcept {
    try {
        if (store.fixed_tenant) return *store.fixed_tenant;
        if (store.strategy == TenantStrategy::SchemaPerTenant && store.resolver)
            return store.resolver();
        return store.tenant.value_or("");
    } catch (...) {
        return "";
    }
}

Operation::Operation(const StoreState& store, const char* operation, SpanKind kind)
    : ring_(store.breadcrumbs) {
    if (store.tracer) {
        span_.begin(store.tracer, std::string("rillflow ") + operation, kind);
        span_.attribute("db.system", "postgresql");
        span_.attribute("db.operation", operation);
        span_.attribute("rillflow.tenant", tenant_label(store));
    }
    if (ring_) {
        crumb_.emplace();
        crumb_->operation = operation;
        crumb_->tenant = tenant_label(store);
        crumb_->started_at = std::chrono::system_clock::now();
        started_ = std::chrono::steady_clock::now();
        uncaught_ = std::uncaught_exceptions();
    }
}

Operation::~Operation() {
    if (crumb_) {
        crumb_->duration = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started_);
        if (std::uncaught_exceptions() > uncaught_) crumb_->error = "exception";
        try {
            ring_->add(std::move(*crumb_));
        } catch (...) {
        }
    }
    span_.end();
}

void Operation::stream(const Uuid& id) {
    span_.attribute("rillflow.stream", id.to_string());
    if (crumb_) crumb_->stream = id;
}

void Operation::collection(const std::string& name) {
    span_.attribute("rillflow.collection", name);
    if (crumb_) crumb_->collection = name;
}

void Operation::add_type(const std::string& type) {
    if (!crumb_) return;
    auto& types = crumb_->event_types;
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
}

void Operation::events(const std::vector<EventData>& events) {
    count(static_cast<std::int64_t>(events.size()));
    for (const EventData& e : events) add_type(e.type);
}

void Operation::events(const std::vector<EventEnvelope>& events) {
    count(static_cast<std::int64_t>(events.size()));
    for (const EventEnvelope& e : events) add_type(e.type);
}

void Operation::count(std::int64_t n, const char* attribute) {
    span_.attribute(attribute, n);
    if (crumb_) crumb_->count = n;
}

void Operation::ids(const std::optional<Uuid>& causation, const std::optional<Uuid>& correlation) {
    if (causation) span_.attribute("rillflow.causation_id", causation->to_string());
    if (correlation) span_.attribute("rillflow.correlation_id", correlation->to_string());
    if (crumb_) {
        crumb_->causation_id = causation;
        crumb_->correlation_id = correlation;
    }
}

std::optional<std::string> Operation::traceparent() const {
    if (!span_.active()) return std::nullopt;
    return span_.context().traceparent();
}

void BreadcrumbRing::add(Breadcrumb b) {
    std::lock_guard<std::mutex> lock(mutex);
    if (entries.size() >= capacity) entries.pop_front();
    entries.push_back(std::move(b));
}

}  // namespace detail
}  // namespace rillflow
