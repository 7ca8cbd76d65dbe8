// The quickstart that `make demo` runs: open a store, append to a stream with
// optimistic concurrency, read the stream back, and follow the global log.
//
//   quickstart [DATABASE_URL]      (default: the DATABASE_URL variable)

#include <cstdlib>
#include <iostream>
#include <string>

#include <rillflow/rillflow.hpp>

int main(int argc, char** argv) {
    const char* url = argc > 1 ? argv[1] : std::getenv("DATABASE_URL");
    if (url == nullptr) {
        std::cerr << "usage: quickstart DATABASE_URL\n";
        return 2;
    }
    try {
        auto store = rillflow::Store::builder(url).max_connections(2).build();
        auto events = store.events();

        // A stream named by an alias; the id is created on first use.
        const auto order = store.resolve_stream_alias("order-" + rillflow::Uuid::random().to_string());

        // A new stream (expected: no stream yet), then one more event at the exact version.
        auto version = events.append(order, rillflow::Expected::NoStream(),
                                     {{"OrderPlaced", {{"sku", "rf-1"}, {"qty", 2}}},
                                      {"PaymentReceived", {{"amount", 42.5}}}});
        version = events.builder(order)
                      .expected(rillflow::Expected::Exact(version))
                      .headers({{"user", "quickstart"}})
                      .idempotency_key("ship-" + order.to_string())
                      .push({"OrderShipped", {{"carrier", "rill express"}}})
                      .send();
        std::cout << "appended 3 events to stream " << order.to_string() << ", now at version "
                  << version << "\n";

        // Appending at a stale version is refused with a typed error.
        try {
            events.append(order, rillflow::Expected::Exact(1), {{"OrderCancelled", nlohmann::json::object()}});
        } catch (const rillflow::VersionConflict& e) {
            std::cout << "stale append refused: " << e.sqlstate() << " " << e.message() << "\n";
        }

        std::cout << "\nthe stream:\n";
        for (const auto& e : events.read_stream(order)) {
            std::cout << "  v" << e.version << "  " << e.type << "  " << e.body.dump() << "\n";
        }

        const auto head = store.head_position();
        std::cout << "\nthe last events of the global log (head " << head << "):\n";
        for (const auto& e : events.read_all(head > 5 ? head - 5 : 0, 5)) {
            std::cout << "  #" << e.position.value_or(0) << "  " << e.type << "  stream "
                      << e.stream_id.to_string() << " v" << e.version << "\n";
        }
        return 0;
    } catch (const rillflow::Error& e) {
        std::cerr << "error: " << e.sqlstate() << ": " << e.what() << "\n";
        return 1;
    }
}
