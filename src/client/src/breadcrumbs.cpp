// breadcrumbs.cpp: a Store's breadcrumbs (trace.hpp records them) and their Mermaid diagram.
#include "rillflow/breadcrumbs.hpp"

#include <cstdio>
#include <map>
#include <sstream>

#include "trace.hpp"

namespace rillflow {

namespace {

// Text Mermaid shows as it is in a message or alias: no statement separators, entities or
// line breaks.
std::string mermaid_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == ';' || c == '\n' || c == '\r')
            out += ' ';
        else if (c == '#')
            out += "nr";
        else
            out += c;
    }
    return out;
}

std::string short_id(const Uuid& id) { return id.to_string().substr(0, 8); }

std::string milliseconds(std::chrono::microseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

}  // namespace

bool Breadcrumbs::enabled() const noexcept { return ring_ != nullptr; }

std::size_t Breadcrumbs::capacity() const noexcept { return ring_ ? ring_->capacity : 0; }

std::vector<Breadcrumb> Breadcrumbs::entries() const {
    if (!ring_) return {};
    std::lock_guard<std::mutex> lock(ring_->mutex);
    return {ring_->entries.begin(), ring_->entries.end()};
}

void Breadcrumbs::clear() const {
    if (!ring_) return;
    std::lock_guard<std::mutex> lock(ring_->mutex);
    ring_->entries.clear();
}

std::string Breadcrumbs::to_mermaid() const {
    const std::vector<Breadcrumb> crumbs = entries();
    std::ostringstream head, body;
    head << "sequenceDiagram\n    participant App\n    participant Store as rillflow\n";
    std::map<std::string, bool> declared;
    auto participant = [&](const Breadcrumb& b) -> std::string {
        std::string id, label;
        if (b.stream) {
            id = "S_" + short_id(*b.stream);
            label = "stream " + short_id(*b.stream);
        } else if (b.collection) {
            id = "C_";
            for (char c : *b.collection)
                id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
            label = "collection " + mermaid_text(*b.collection);
        } else {
            return "Store";
        }
        if (!declared[id]) {
            head << "    participant " << id << " as " << label << '\n';
            declared[id] = true;
        }
        return id;
    };
    for (const Breadcrumb& b : crumbs) {
        const std::string to = participant(b);
        std::string text = b.operation;
        if (!b.event_types.empty()) {
            text += " ";
            for (std::size_t i = 0; i < b.event_types.size(); ++i)
                text += (i ? ", " : "") + b.event_types[i];
        }
        std::string details;
        if (b.count > 0)
            details += std::to_string(b.count) + (b.stream || !b.collection ? " events" : " docs");
        if (b.correlation_id)
            details += (details.empty() ? "" : ", ") + std::string("correlation ") +
                       short_id(*b.correlation_id);
        if (b.causation_id)
            details += (details.empty() ? "" : ", ") + std::string("causation ") +
                       short_id(*b.causation_id);
        if (!b.tenant.empty())
            details += (details.empty() ? "" : ", ") + std::string("tenant ") + b.tenant;
        details += (details.empty() ? "" : ", ") + milliseconds(b.duration);
        text += " (" + details + ")";
        if (b.error) text += " failed: " + *b.error;
        body << "    App" << (b.error ? "-x" : "->>") << to << ": " << mermaid_text(text) << '\n';
    }
    return head.str() + body.str();
}

}  // namespace rillflow
