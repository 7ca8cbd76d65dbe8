// observability.cpp: read_metrics and trace_mermaid over the SQL API.
#include "rillflow/observability.hpp"

#include "rillflow/transaction.hpp"

namespace rillflow {

std::vector<Metric> read_metrics(const Store& store) {
    Transaction tx = store.transaction();
    Result r = tx.exec("SELECT name, labels::text, value, help FROM rillflow.metrics()");
    std::vector<Metric> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        Metric m;
        m.name = std::string(r.value(i, 0));
        m.labels = nlohmann::json::parse(std::string(r.value(i, 1)));
        m.value = std::stod(std::string(r.value(i, 2)));
        m.help = std::string(r.value(i, 3));
        out.push_back(std::move(m));
    }
    tx.commit();
    return out;
}

std::string trace_mermaid(const Store& store, const Uuid& correlation_id, int max_events) {
    Transaction tx = store.transaction();
    Result r = tx.exec("SELECT rillflow.trace_mermaid($1::uuid, $2::integer)",
                       {correlation_id.to_string(), max_events});
    std::string out(r.value(0, 0));
    tx.commit();
    return out;
}

}  // namespace rillflow
