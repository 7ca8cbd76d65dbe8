// rillflow/breadcrumbs.hpp: a developer's trail of what a Store did (docs/observability.md).
// Off by default; StoreBuilder::breadcrumbs(true) or RILLFLOW_BREADCRUMBS=1 turns it on. The
// Store then keeps the last operations (a bounded ring: the oldest fall off) with their
// streams, event types, causation and correlation ids and durations, and renders them as a
// Mermaid sequence diagram.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rillflow/export.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct BreadcrumbRing;
}

/// @brief One operation of a Store.
struct Breadcrumb {
    /// @brief "append", "read_stream", "read_all", "doc.put", "doc.query", "session.save", ...
    std::string operation{};
    /// @brief The stream it acted on, if one.
    std::optional<Uuid> stream{};
    /// @brief The document collection it acted on, if one.
    std::optional<std::string> collection{};
    /// @brief The types of the events appended or read (each once, in order of appearance).
    std::vector<std::string> event_types{};
    /// @brief Events appended or read, documents written or read.
    std::int64_t count = 0;
    std::optional<Uuid> causation_id{};
    std::optional<Uuid> correlation_id{};
    /// @brief The tenant of the call ("" the default store).
    std::string tenant{};
    /// @brief When it started.
    std::chrono::system_clock::time_point started_at{};
    /// @brief How long it took.
    std::chrono::microseconds duration{0};
    /// @brief The error it threw, if it did.
    std::optional<std::string> error{};
};

/// @brief A Store's breadcrumbs (Store::breadcrumbs()); shared by the Store's copies.
class RILLFLOW_EXPORT Breadcrumbs {
  public:
    /// @brief Whether breadcrumbs are recorded.
    [[nodiscard]] bool enabled() const noexcept;
    /// @brief The ring's size.
    [[nodiscard]] std::size_t capacity() const noexcept;
    /// @brief The recorded operations, oldest first.
    [[nodiscard]] std::vector<Breadcrumb> entries() const;
    /// @brief Forgets every recorded operation.
    void clear() const;
    /// @brief The recorded operations as a Mermaid sequence diagram: the application, the
    /// store, and one participant per stream and collection; each operation an arrow with its
    /// event types, ids and duration.
    [[nodiscard]] std::string to_mermaid() const;

  private:
    friend class Store;
    explicit Breadcrumbs(std::shared_ptr<detail::BreadcrumbRing> ring) : ring_(std::move(ring)) {}
    std::shared_ptr<detail::BreadcrumbRing> ring_;  // null: disabled
};

}  // namespace rillflow
