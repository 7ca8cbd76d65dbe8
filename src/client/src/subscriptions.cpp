// subscriptions.cpp: the subscription API and the Subscription consumer handle, each call one
// statement of the SQL API with bound parameters; run() and next() wait on a LISTEN connection
// of their own (daemon/listener.hpp) between polls.
#include "rillflow/subscriptions.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>

#include "daemon/listener.hpp"
#include "envelope.hpp"
#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/store.hpp"
#include "rillflow/transaction.hpp"
#include "run.hpp"
#include "trace.hpp"
#include "value.hpp"

namespace rillflow {
namespace {

using detail::exec_in_store;

constexpr const char* kPoll = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.subscription_poll($1::text, $2::integer, $3::text, $4::text, $5::interval) "
    "AS e";
constexpr const char* kAck =
    "SELECT rillflow.subscription_ack($1::text, $2::bigint[], $3::text, $4::text)";

std::string bigint_array(const std::vector<std::int64_t>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(values[i]);
    }
    return out + "}";
}

Param optional_text_array(const std::vector<std::string>& items) {
    return items.empty() ? Param::null() : Param(detail::text_array(items));
}

std::int64_t json_int(const nlohmann::json& row, const char* key) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) return 0;
    return it->get<std::int64_t>();
}

std::vector<std::string> json_strings(const nlohmann::json& row, const char* key) {
    std::vector<std::string> out;
    auto it = row.find(key);
    if (it == row.end() || !it->is_array()) return out;
    for (const auto& v : *it) out.push_back(v.get<std::string>());
    return out;
}

SubscriptionInfo to_info(const nlohmann::json& row) {
    SubscriptionInfo s;
    s.name = row.contains("name") ? row["name"].get<std::string>()
                                  : row.value("subscription", std::string());
    s.filter.event_types = json_strings(row, "event_types");
    s.filter.categories = json_strings(row, "categories");
    for (const auto& id : json_strings(row, "stream_ids"))
        s.filter.stream_ids.push_back(Uuid::parse(id));
    s.filter.headers = row.value("headers", nlohmann::json());
    s.filter.start_from = json_int(row, "start_from");
    s.checkpoint = json_int(row, "checkpoint");
    s.head = json_int(row, "head");
    s.lag = json_int(row, "lag");
    s.groups = json_int(row, "groups");
    s.row = row;
    return s;
}

GroupStatus to_group(const nlohmann::json& row, std::string_view group) {
    GroupStatus g;
    g.group = row.contains("group_name") && row["group_name"].is_string()
                  ? row["group_name"].get<std::string>()
                  : std::string(group);
    g.checkpoint =
        row.contains("checkpoint") ? json_int(row, "checkpoint") : json_int(row, "last_seq");
    g.head = json_int(row, "head");
    g.lag = json_int(row, "lag");
    g.in_flight = json_int(row, "in_flight");
    if (row.contains("max_in_flight") && row["max_in_flight"].is_number())
        g.max_in_flight = row["max_in_flight"].get<int>();
    g.ordered = row.value("ordered", false);
    g.max_deliveries = static_cast<int>(json_int(row, "max_deliveries"));
    g.row = row;
    return g;
}

Param optional_group(const std::optional<std::string>& group) {
    return group ? Param(*group) : Param::null();
}

// host-pid-n, in the consumer name rule (letters, digits and _ . : @ -).
std::string default_consumer() {
    static std::atomic<int> counter{0};
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "host");
    std::string id;
    for (const char* p = host; *p != '\0' && id.size() < 64; ++p) {
        const char c = *p;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        id += ok ? c : '-';
    }
    if (id.empty()) id = "host";
    return id + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

Subscriptions Store::subscriptions() const { return Subscriptions(state_); }

void Subscriptions::create(std::string_view name, const SubscriptionFilter& filter) const {
    std::vector<std::string> ids;
    for (const Uuid& id : filter.stream_ids) ids.push_back(id.to_string());
    exec_in_store(
        *store_,
        "SELECT rillflow.create_subscription($1::text, $2::text[], $3::text[], "
        "$4::uuid[], $5::jsonb, $6::bigint)",
        {name, optional_text_array(filter.event_types), optional_text_array(filter.categories),
         optional_text_array(ids), filter.headers.is_null() ? Param::null() : Param(filter.headers),
         filter.start_from});
}

void Subscriptions::drop(std::string_view name) const {
    exec_in_store(*store_, "SELECT rillflow.drop_subscription($1::text)", {name});
}

std::vector<SubscriptionInfo> Subscriptions::list() const {
    Result r =
        exec_in_store(*store_, "SELECT to_jsonb(s) FROM rillflow.list_subscriptions() s", {});
    std::vector<SubscriptionInfo> out;
    for (const auto& row : detail::json_rows(r)) out.push_back(to_info(row));
    return out;
}

SubscriptionInfo Subscriptions::status(std::string_view name) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(s) FROM rillflow.subscription_status($1::text) s", {name});
    auto rows = detail::json_rows(r);
    if (rows.empty()) throw NotFound(sqlstate::not_found, "subscription not found");
    return to_info(rows.front());
}

std::vector<GroupStatus> Subscriptions::groups(std::string_view name) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(g) FROM rillflow.subscription_groups($1::text) g", {name});
    std::vector<GroupStatus> out;
    for (const auto& row : detail::json_rows(r)) out.push_back(to_group(row, ""));
    return out;
}

GroupStatus Subscriptions::group_status(std::string_view name, std::string_view group) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(g) FROM rillflow.subscription_group_status($1::text, $2::text) g",
        {name, group.empty() ? Param::null() : Param(group)});
    auto rows = detail::json_rows(r);
    if (rows.empty()) throw NotFound(sqlstate::not_found, "group not found");
    return to_group(rows.front(), group);
}

void Subscriptions::set_group_max_in_flight(std::string_view name, std::string_view group,
                                            std::optional<int> value) const {
    exec_in_store(*store_,
                  "SELECT rillflow.set_group_max_in_flight($1::text, $2::text, $3::integer)",
                  {name, group, value});
}

void Subscriptions::configure_group(std::string_view name, std::string_view group,
                                    std::optional<bool> ordered,
                                    std::optional<int> max_deliveries) const {
    exec_in_store(*store_,
                  "SELECT rillflow.subscription_group_configure($1::text, $2::text, $3::boolean, "
                  "$4::integer)",
                  {name, group, ordered, max_deliveries});
}

std::vector<nlohmann::json> Subscriptions::dlq_list(std::string_view name,
                                                    std::optional<std::string> group) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(d) FROM rillflow.subscription_dlq_list($1::text, $2::text) d",
        {name, optional_group(group)});
    return detail::json_rows(r);
}

int Subscriptions::dlq_requeue(std::string_view name, std::optional<std::string> group,
                               const std::vector<std::int64_t>& positions) const {
    Result r = exec_in_store(
        *store_, "SELECT rillflow.subscription_dlq_requeue($1::text, $2::text, $3::bigint[])",
        {name, optional_group(group),
         positions.empty() ? Param::null() : Param(bigint_array(positions))});
    return static_cast<int>(detail::to_int64(detail::single(r, "subscription_dlq_requeue")));
}

int Subscriptions::dlq_delete(std::string_view name, std::optional<std::string> group,
                              const std::vector<std::int64_t>& positions) const {
    Result r = exec_in_store(
        *store_, "SELECT rillflow.subscription_dlq_delete($1::text, $2::text, $3::bigint[])",
        {name, optional_group(group),
         positions.empty() ? Param::null() : Param(bigint_array(positions))});
    return static_cast<int>(detail::to_int64(detail::single(r, "subscription_dlq_delete")));
}

std::vector<nlohmann::json> Subscriptions::lag() const {
    Result r = exec_in_store(*store_, "SELECT to_jsonb(l) FROM rillflow.subscription_lag l", {});
    return detail::json_rows(r);
}

Subscription Subscriptions::subscribe(std::string_view name, const SubscriptionFilter& filter,
                                      SubscriptionOptions options) const {
    try {
        create(name, filter);
    } catch (const Error& e) {
        if (e.sqlstate() != sqlstate::duplicate_object)
            throw;  // it exists: it keeps its own filter
    }
    if (options.max_in_flight) {
        if (!options.group) {
            throw InvalidArgument(sqlstate::invalid_parameter_value,
                                  "max_in_flight needs a consumer group",
                                  "The single consumer of a subscription has no bound.");
        }
        set_group_max_in_flight(name, *options.group, options.max_in_flight);
    }
    if (options.consumer.empty()) options.consumer = default_consumer();
    return Subscription(store_, std::string(name), std::move(options));
}

Subscription::Subscription(std::shared_ptr<detail::StoreState> store, std::string name,
                           SubscriptionOptions options)
    : store_(std::move(store)), name_(std::move(name)), options_(std::move(options)) {}

Subscription::Subscription(Subscription&&) noexcept = default;
Subscription& Subscription::operator=(Subscription&&) noexcept = default;
Subscription::~Subscription() = default;

const std::string& Subscription::name() const noexcept { return name_; }
const std::string& Subscription::consumer() const noexcept { return options_.consumer; }
const std::optional<std::string>& Subscription::group() const noexcept { return options_.group; }

namespace {

// A poll's span and breadcrumb, kept only when the poll brought events (an idle consumer
// polls every poll_interval); the span links to the appends of the events it brought.
void trace_poll(detail::Operation& op, const std::string& name,
                const std::optional<std::string>& group, const std::vector<EventEnvelope>& events) {
    if (events.empty()) {
        op.discard();
        return;
    }
    op.span().attribute("rillflow.subscription", name);
    if (group) op.span().attribute("rillflow.group", *group);
    op.events(events);
    op.span().link_events(events);
}

}  // namespace

std::vector<EventEnvelope> Subscription::poll(int max_count) {
    ack_pending();
    detail::Operation op(*store_, "subscription.poll", detail::SpanKind::Consumer);
    Result r = exec_in_store(*store_, kPoll,
                             {name_, max_count, optional_group(options_.group), options_.consumer,
                              detail::interval_text(options_.lease)});
    std::vector<EventEnvelope> events = detail::envelopes(r);
    trace_poll(op, name_, options_.group, events);
    if (options_.ack_mode == AckMode::Auto) {
        for (const EventEnvelope& e : events)
            if (e.position) pending_acks_.push_back(*e.position);
    }
    return events;
}

std::optional<EventEnvelope> Subscription::next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.empty()) {
        for (EventEnvelope& e : poll(options_.batch_size)) buffer_.push_back(std::move(e));
        if (!buffer_.empty()) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        wait_for_events(std::min(left, options_.poll_interval));
    }
    EventEnvelope e = std::move(buffer_.front());
    buffer_.pop_front();
    return e;
}

void Subscription::run(const Handler& handler, const std::atomic<bool>& stop_token) {
    while (!stop_token.load()) {
        detail::Operation op(*store_, "subscription.poll", detail::SpanKind::Consumer);
        Result r = exec_in_store(*store_, kPoll,
                                 {name_, options_.batch_size, optional_group(options_.group),
                                  options_.consumer, detail::interval_text(options_.lease)});
        std::vector<EventEnvelope> events = detail::envelopes(r);
        trace_poll(op, name_, options_.group, events);
        if (events.empty()) {
            wait_for_events(options_.poll_interval);
            continue;
        }
        std::vector<std::int64_t> done;
        for (std::size_t i = 0; i < events.size(); ++i) {
            const EventEnvelope& e = events[i];
            // The handling of one event: a child of the span that appended it (its
            // traceparent header), linked to the poll that brought it.
            detail::Span handling;
            if (op.tracing()) {
                std::optional<SpanContext> parent;
                if (auto tp = e.headers.find("traceparent");
                    tp != e.headers.end() && tp->is_string())
                    parent = SpanContext::from_traceparent(tp->get<std::string>());
                handling.begin(store_->tracer, "rillflow subscription.handle " + name_,
                               detail::SpanKind::Consumer, parent);
                handling.link(op.span().context());
                handling.attribute("rillflow.subscription", name_);
                handling.attribute("rillflow.stream", e.stream_id.to_string());
                handling.attribute("rillflow.event_type", e.type);
                if (e.position) handling.attribute("rillflow.position", *e.position);
            }
            try {
                handler(e);
            } catch (...) {
                if (options_.ack_mode == AckMode::Auto) {
                    // what was handled is done; the failed event and the rest go back
                    if (!done.empty()) ack(done);
                    for (std::size_t j = i; j < events.size(); ++j)
                        if (events[j].position) nack(*events[j].position);
                }
                throw;
            }
            if (e.position) done.push_back(*e.position);
        }
        if (options_.ack_mode == AckMode::Auto && !done.empty()) ack(done);
    }
}

void Subscription::ack(std::int64_t position) { ack(std::vector<std::int64_t>{position}); }

void Subscription::ack(const std::vector<std::int64_t>& positions) {
    if (positions.empty()) return;
    exec_in_store(
        *store_, kAck,
        {name_, bigint_array(positions), optional_group(options_.group), options_.consumer});
}

void Subscription::ack_in_tx(Transaction& tx, std::int64_t position) {
    tx.exec(kAck,
            {name_, bigint_array({position}), optional_group(options_.group), options_.consumer});
}

void Subscription::nack(std::int64_t position, std::chrono::milliseconds retry_after) {
    exec_in_store(*store_,
                  "SELECT rillflow.subscription_nack($1::text, $2::bigint, $3::text, $4::text, "
                  "$5::interval)",
                  {name_, position, optional_group(options_.group), options_.consumer,
                   detail::interval_text(retry_after)});
}

void Subscription::ack_pending() {
    if (pending_acks_.empty() || !buffer_.empty()) return;
    std::vector<std::int64_t> positions;
    positions.swap(pending_acks_);
    ack(positions);
}

bool Subscription::wait_for_events(std::chrono::milliseconds timeout) {
    if (!listener_) {
        listener_ = std::make_unique<detail::Listener>(store_->pool->config().connect->url);
    }
    return listener_->wait(timeout);
}

}  // namespace rillflow
