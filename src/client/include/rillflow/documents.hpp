// rillflow/documents.hpp: JSON documents in collections, the typed query builder, compiled
// queries, duplicated fields and the index advisor.
//
// Every call is one statement of the SQL API (doc_put, doc_get, doc_query, ...) with bound
// parameters. T is any type nlohmann::json converts to and from (to_json/from_json, or
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE); its JSON form must be an object.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
struct TxState;
}  // namespace detail

/// @brief The collection every store has, used when none is named.
inline constexpr std::string_view kDefaultCollection = "docs";

/// @brief A stored document: its id, its value and its version (1 after the first write,
/// +1 per write).
template <typename T>
struct Document {
    /// @brief The document's id.
    Uuid id{};
    /// @brief The document's data, converted to T.
    T value{};
    /// @brief The version the value was read at; pass it as the expected version of a write.
    std::int64_t version = 0;
};

/// @brief A condition on documents, built from the static functions and combined with
/// `&&`, `||`, `!` (or and_(), or_(), not_()). Paths are dotted (`profile.address.city`);
/// values are JSON and compare by their JSON type (numbers as numbers, strings as text).
/// A default-constructed Predicate is empty: it matches every document.
class RILLFLOW_EXPORT Predicate {
  public:
    /// @brief The empty predicate (no condition).
    Predicate() = default;

    /// @brief path = value.
    static Predicate eq(std::string path, nlohmann::json value);
    /// @brief path <> value.
    static Predicate ne(std::string path, nlohmann::json value);
    /// @brief path > value.
    static Predicate gt(std::string path, nlohmann::json value);
    /// @brief path >= value.
    static Predicate gte(std::string path, nlohmann::json value);
    /// @brief path < value.
    static Predicate lt(std::string path, nlohmann::json value);
    /// @brief path <= value.
    static Predicate lte(std::string path, nlohmann::json value);
    /// @brief path is one of `values`.
    static Predicate in(std::string path, std::vector<nlohmann::json> values);
    /// @brief path is none of `values`.
    static Predicate nin(std::string path, std::vector<nlohmann::json> values);
    /// @brief The value at path contains `value` (jsonb `@>`): a sub-object, or array elements.
    static Predicate contains(std::string path, nlohmann::json value);
    /// @brief The document has the path.
    static Predicate exists(std::string path);
    /// @brief SQL LIKE on the text at path (`%` any run, `_` one character).
    static Predicate like(std::string path, std::string pattern);
    /// @brief Case-insensitive LIKE.
    static Predicate ilike(std::string path, std::string pattern);
    /// @brief All of `parts` (empty predicates are left out).
    static Predicate and_(std::vector<Predicate> parts);
    /// @brief Any of `parts` (empty predicates are left out).
    static Predicate or_(std::vector<Predicate> parts);
    /// @brief Not `part`. @throws InvalidArgument when `part` is empty.
    static Predicate not_(Predicate part);
    /// @brief A value that compares as a timestamp (`{"$timestamp": "...Z"}`), e.g.
    /// `Predicate::gt("paid_at", Predicate::timestamp(t))`.
    static nlohmann::json timestamp(std::chrono::system_clock::time_point t);
    /// @brief A predicate given as the JSON of the query spec (`{"eq": ["status", "x"]}`);
    /// the server validates it. Null gives the empty predicate.
    static Predicate from_json(nlohmann::json spec);

    /// @brief True for the empty predicate.
    bool empty() const noexcept { return spec_.is_null(); }
    /// @brief The predicate's JSON in the query spec; null when empty.
    const nlohmann::json& to_json() const noexcept { return spec_; }

    /// @brief Both; `a && b && c` gives one flat `and`.
    friend RILLFLOW_EXPORT Predicate operator&&(Predicate a, Predicate b);
    /// @brief Either; `a || b || c` gives one flat `or`.
    friend RILLFLOW_EXPORT Predicate operator||(Predicate a, Predicate b);
    /// @brief Not. @throws InvalidArgument when `a` is empty.
    friend RILLFLOW_EXPORT Predicate operator!(Predicate a);

  private:
    explicit Predicate(nlohmann::json spec) : spec_(std::move(spec)) {}
    static Predicate compare(const char* op, std::string path, nlohmann::json value);
    static Predicate combine(const char* op, std::vector<Predicate> parts);

    nlohmann::json spec_;
};

/// @brief Sort order of an order_by().
enum class SortDirection { Asc, Desc };

/// @brief Where documents without a value at the sort path go; Default is PostgreSQL's
/// (last ascending, first descending).
enum class NullsOrder { Default, First, Last };

/// @brief The JSON query spec of DESIGN.md, built step by step. Query<T> and QueryContext
/// are the builders users see; this is what both fill.
class RILLFLOW_EXPORT QuerySpec {
  public:
    /// @brief Adds a condition; several filter() calls must all hold.
    void filter(Predicate p);
    /// @brief Adds a sort key (the first call sorts first).
    void order_by(std::string path, SortDirection direction, NullsOrder nulls);
    /// @brief At most n documents (n >= 0); replaces page(). @throws InvalidArgument
    void limit(std::int64_t n);
    /// @brief Skips n documents (n >= 0); replaces page(). @throws InvalidArgument
    void offset(std::int64_t n);
    /// @brief Page `page` (1-based) of `page_size` documents; replaces limit() and offset().
    /// @throws InvalidArgument when page < 1 or page_size < 1.
    void page(std::int64_t page, std::int64_t page_size);
    /// @brief Return these paths instead of the whole document, each under its own path as
    /// the key (`"profile.name"` comes back as the key "profile.name"). `$id` and `$version`
    /// select the document's id and version.
    void select_fields(const std::vector<std::string>& paths);
    /// @brief Return the value at `path` under the key `output`.
    void select_field(std::string output, std::string path);
    /// @brief Include soft-deleted documents.
    void include_deleted(bool on);

    /// @brief The filter so far; empty when none.
    const Predicate& filter() const noexcept { return filter_; }
    /// @brief True when include_deleted(true) was called.
    bool includes_deleted() const noexcept { return include_deleted_; }
    /// @brief The spec as doc_query takes it.
    nlohmann::json to_json() const;

  private:
    Predicate filter_;
    nlohmann::json order_by_ = nlohmann::json::array();
    std::optional<std::int64_t> limit_, offset_, page_, page_size_;
    nlohmann::json select_;  // null: the whole document
    bool include_deleted_ = false;
};

/// @brief The builder methods Query<T> and QueryContext share; each returns the builder.
template <typename Derived>
class QueryBuilder {
  public:
    /// @brief Adds a condition; several filter() calls must all hold.
    Derived& filter(Predicate p) {
        spec_.filter(std::move(p));
        return self();
    }
    /// @brief Adds a sort key (the first call sorts first).
    Derived& order_by(std::string path, SortDirection direction = SortDirection::Asc,
                      NullsOrder nulls = NullsOrder::Default) {
        spec_.order_by(std::move(path), direction, nulls);
        return self();
    }
    /// @brief At most n documents.
    Derived& limit(std::int64_t n) {
        spec_.limit(n);
        return self();
    }
    /// @brief Skips n documents.
    Derived& offset(std::int64_t n) {
        spec_.offset(n);
        return self();
    }
    /// @brief Page `page` (1-based) of `page_size` documents.
    Derived& page(std::int64_t page, std::int64_t page_size) {
        spec_.page(page, page_size);
        return self();
    }
    /// @brief Return these paths (each under its own path as key) instead of the document.
    Derived& select_fields(const std::vector<std::string>& paths) {
        spec_.select_fields(paths);
        return self();
    }
    /// @brief Return the value at `path` under the key `output`.
    Derived& select_field(std::string output, std::string path) {
        spec_.select_field(std::move(output), std::move(path));
        return self();
    }
    /// @brief Include soft-deleted documents.
    Derived& include_deleted(bool on = true) {
        spec_.include_deleted(on);
        return self();
    }
    /// @brief What has been built so far.
    const QuerySpec& spec() const noexcept { return spec_; }

  protected:
    QuerySpec spec_;

  private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

/// @brief What CompiledQuery::configure() fills: the spec, the collection, and named
/// parameters whose values come at execution.
class RILLFLOW_EXPORT QueryContext : public QueryBuilder<QueryContext> {
  public:
    /// @brief Starts with the collection of the Documents handle that runs the query.
    explicit QueryContext(std::string collection) : collection_(std::move(collection)) {}
    /// @brief The collection the query reads.
    QueryContext& collection(std::string name);
    /// @brief The collection the query reads.
    const std::string& collection() const noexcept { return collection_; }
    /// @brief A value filled from the parameter `name` at execution (`"$name"` in the spec).
    /// @throws InvalidArgument unless name matches `[A-Za-z_][A-Za-z0-9_]*`.
    static nlohmann::json param(std::string_view name);

  private:
    std::string collection_;
};

/// @brief The non-template part of every compiled query.
class RILLFLOW_EXPORT CompiledQueryBase {
  public:
    virtual ~CompiledQueryBase();
    /// @brief The name it is registered under in the store (compile_query); unique per
    /// query shape.
    virtual std::string name() const = 0;
    /// @brief Builds the spec, once per Store; use QueryContext::param() for the values
    /// given at execution.
    virtual void configure(QueryContext& ctx) const = 0;

  protected:
    CompiledQueryBase() = default;
    CompiledQueryBase(const CompiledQueryBase&) = default;
    CompiledQueryBase& operator=(const CompiledQueryBase&) = default;
};

/// @brief A named query planned once by the server and run with parameters by
/// Documents::execute_compiled(). Derive from it, give it a name() and a configure().
/// T is the type of each result row.
template <typename T>
class CompiledQuery : public CompiledQueryBase {};

/// @brief A collection of the store.
struct CollectionInfo {
    /// @brief The collection's name.
    std::string name;
    /// @brief The table that holds it (in the store's schema).
    std::string table_name;
    /// @brief How many duplicated fields it has.
    int duplicated_fields = 0;
    /// @brief When it was created.
    std::chrono::system_clock::time_point created_at{};
};

/// @brief A duplicated field: a column kept equal to a path of each document, which
/// doc_query uses for conditions and sorts on that path.
struct DuplicatedField {
    /// @brief The dotted path in the documents.
    std::string path;
    /// @brief The column's name.
    std::string column_name;
    /// @brief Its SQL type (text, integer, bigint, numeric, boolean, timestamptz, uuid).
    std::string type;
    /// @brief Whether the column has an index.
    bool indexed = true;
    /// @brief An expression over `{value}` applied before the cast (e.g. `lower({value})`).
    std::optional<std::string> transform{};
};

/// @brief One recommendation of the index advisor.
struct IndexAdvice {
    /// @brief What it recommends, e.g. "duplicated_field", "expression_btree", "gin".
    std::string kind;
    /// @brief The statement to run.
    std::string ddl;
    /// @brief Why.
    std::string reason;
    /// @brief The whole row as the server returned it.
    nlohmann::json raw;
};

template <typename T>
class Query;

/// @brief The document API on one collection. Cheap to copy. From Store::docs() (each call
/// borrows a pooled connection; thread-safe) or Transaction::docs() (each call runs in that
/// transaction).
class RILLFLOW_EXPORT Documents {
  public:
    /// @brief The same API on another collection.
    [[nodiscard]] Documents collection(std::string name) const;
    /// @brief The collection this handle acts on.
    [[nodiscard]] const std::string& collection_name() const noexcept { return collection_; }

    // ---- writes and reads by id ------------------------------------------------------
    /// @brief Inserts or replaces the document. `expected_version`: none = last writer wins,
    /// 0 = must be new, n = must be at n. @return The new version (1 for a new document).
    /// @throws DocumentVersionConflict, InvalidArgument (data not an object), NotFound
    /// (collection missing and not auto-created).
    std::int64_t put(const Uuid& id, const nlohmann::json& data,
                     std::optional<std::int64_t> expected_version = std::nullopt) const;
    /// @brief put() of any T that converts to a JSON object.
    template <typename T>
    std::int64_t put(const Uuid& id, const T& value,
                     std::optional<std::int64_t> expected_version = std::nullopt) const {
        return put(id, nlohmann::json(value), expected_version);
    }

    /// @brief The document, or std::nullopt when it does not exist or is soft-deleted.
    template <typename T = nlohmann::json>
    [[nodiscard]] std::optional<Document<T>> get(const Uuid& id) const {
        auto doc = get_json(id);
        if (!doc) return std::nullopt;
        return Document<T>{doc->id, doc->value.template get<T>(), doc->version};
    }
    /// @brief The documents that exist (not soft-deleted), in the order of `ids`.
    template <typename T = nlohmann::json>
    [[nodiscard]] std::vector<Document<T>> get_many(const std::vector<Uuid>& ids) const {
        std::vector<Document<T>> out;
        for (auto& doc : get_many_json(ids)) {
            out.push_back(Document<T>{doc.id, doc.value.template get<T>(), doc.version});
        }
        return out;
    }

    /// @brief Replaces an existing document that is at `expected_version`.
    /// @return The new version. @throws DocumentVersionConflict, NotFound
    std::int64_t update(const Uuid& id, const nlohmann::json& data,
                        std::int64_t expected_version) const;
    /// @brief Loads the document as T, runs `mutator(T&)` and writes the result back, expecting
    /// the version it loaded (and, when given, `expected_version` before that).
    /// @return The new version. @throws NotFound when the document does not exist;
    /// DocumentVersionConflict when it is not at `expected_version` or changed meanwhile.
    template <typename T, typename F>
    std::int64_t update(const Uuid& id, std::optional<std::int64_t> expected_version,
                        F&& mutator) const {
        auto doc = get<T>(id);
        if (!doc) throw_missing(id);
        if (expected_version && doc->version != *expected_version) {
            throw_conflict(id, *expected_version, doc->version);
        }
        mutator(doc->value);
        return update(id, nlohmann::json(doc->value), doc->version);
    }
    /// @brief update() expecting whatever version it loads.
    template <typename T, typename F>
    std::int64_t update(const Uuid& id, F&& mutator) const {
        return update<T>(id, std::nullopt, std::forward<F>(mutator));
    }

    /// @brief Sets one dotted path (creating missing parents). @return The new version.
    std::int64_t patch(const Uuid& id, std::string_view path, const nlohmann::json& value,
                       std::optional<std::int64_t> expected_version = std::nullopt) const;
    /// @brief Sets many paths at once: `fields` maps dotted paths to values.
    /// @return The new version.
    std::int64_t patch_fields(const Uuid& id, const nlohmann::json& fields,
                              std::optional<std::int64_t> expected_version = std::nullopt) const;
    /// @brief Marks a live document deleted (get() and queries no longer see it; +1 version).
    /// @return False when there was no live document. @throws DocumentVersionConflict when
    /// the live document is not at `expected_version`.
    bool soft_delete(const Uuid& id,
                     std::optional<std::int64_t> expected_version = std::nullopt) const;
    /// @brief Brings back a soft-deleted document (+1 version).
    /// @return False when there was no soft-deleted document.
    bool restore(const Uuid& id, std::optional<std::int64_t> expected_version = std::nullopt) const;
    /// @brief Deletes the document (live or soft-deleted) for good.
    /// @return False when there was none.
    bool remove(const Uuid& id, std::optional<std::int64_t> expected_version = std::nullopt) const;

    // ---- queries ---------------------------------------------------------------------
    /// @brief A query builder on this collection; T is the type of each row.
    template <typename T = nlohmann::json>
    [[nodiscard]] Query<T> query() const;
    /// @brief Runs a spec as doc_query takes it; one JSON value per row.
    [[nodiscard]] std::vector<nlohmann::json> query_json(const nlohmann::json& spec) const;
    /// @brief Every document matching `spec`, whole, with its id and version (in the query's
    /// order and paging; the rows also carry any fields selected).
    [[nodiscard]] std::vector<Document<nlohmann::json>> query_documents_json(
        const QuerySpec& spec) const;
    /// @brief How many documents match `filter` (all when empty).
    [[nodiscard]] std::int64_t count(const Predicate& filter = Predicate(),
                                     bool include_deleted = false) const;

    /// @brief Runs a compiled query with `params` (an object: parameter name -> value).
    /// The first run through a Store registers it (compile_query).
    /// @throws InvalidArgument when another query of the same name with a different spec was
    /// registered through this Store.
    template <typename T>
    std::vector<T> execute_compiled(const CompiledQuery<T>& query,
                                    const nlohmann::json& params = nlohmann::json::object()) const {
        std::vector<T> out;
        for (auto& row : execute_compiled_json(query, params)) out.push_back(row.template get<T>());
        return out;
    }
    /// @brief execute_compiled() with JSON rows.
    std::vector<nlohmann::json> execute_compiled_json(const CompiledQueryBase& query,
                                                      const nlohmann::json& params) const;
    /// @brief Drops a compiled query from the store (the next execute_compiled() through this
    /// Store registers it again). @throws NotFound when the store has no query of that name.
    void drop_compiled(std::string_view name) const;

    // ---- collections -------------------------------------------------------------------
    /// @brief Creates the collection unless it exists. @return True when this call created it.
    bool create_collection(std::string_view name) const;
    /// @brief Drops the collection and its documents. @return True when it existed.
    bool drop_collection(std::string_view name) const;
    /// @brief The store's collections, by name.
    [[nodiscard]] std::vector<CollectionInfo> list_collections() const;

    // ---- duplicated fields and the index advisor (on this collection) -------------------
    /// @brief Adds a duplicated field (column, trigger, backfill, index).
    void add_duplicated_field(const DuplicatedField& field) const;
    /// @brief Drops the duplicated field with this column name. @return True when it existed.
    bool drop_duplicated_field(std::string_view column_name) const;
    /// @brief This collection's duplicated fields.
    [[nodiscard]] std::vector<DuplicatedField> list_duplicated_fields() const;
    /// @brief What the server recommends for queries on `path` (`gin`: containment queries).
    [[nodiscard]] std::vector<IndexAdvice> index_advisor(std::string_view path,
                                                         bool gin = false) const;

  private:
    friend class Store;
    friend class Transaction;
    friend class Session;
    Documents(std::shared_ptr<detail::StoreState> store, std::shared_ptr<detail::TxState> tx,
              std::string collection)
        : store_(std::move(store)), tx_(std::move(tx)), collection_(std::move(collection)) {}

    std::optional<Document<nlohmann::json>> get_json(const Uuid& id) const;
    std::vector<Document<nlohmann::json>> get_many_json(const std::vector<Uuid>& ids) const;
    [[noreturn]] void throw_missing(const Uuid& id) const;
    [[noreturn]] void throw_conflict(const Uuid& id, std::int64_t expected,
                                     std::int64_t actual) const;

    std::shared_ptr<detail::StoreState> store_;
    std::shared_ptr<detail::TxState> tx_;  // null: borrow a pooled connection per call
    std::string collection_;
};

/// @brief A query on one collection, from Documents::query<T>(). Each row converts to T:
/// the document, or the selected fields when select_fields()/select_field() was called.
template <typename T>
class Query : public QueryBuilder<Query<T>> {
  public:
    /// @brief Every matching row.
    [[nodiscard]] std::vector<T> fetch_all() const {
        std::vector<T> out;
        for (auto& row : docs_.query_json(this->spec_.to_json())) {
            out.push_back(row.template get<T>());
        }
        return out;
    }
    /// @brief The first matching row (in the query's order), if any.
    [[nodiscard]] std::optional<T> fetch_one() const {
        QuerySpec one = this->spec_;
        one.limit(1);
        auto rows = docs_.query_json(one.to_json());
        if (rows.empty()) return std::nullopt;
        return rows.front().template get<T>();
    }
    /// @brief Every matching document with its id and version (the select, if any, is
    /// replaced by the whole document).
    [[nodiscard]] std::vector<Document<T>> fetch_documents() const {
        std::vector<Document<T>> out;
        for (auto& doc : docs_.query_documents_json(this->spec_)) {
            out.push_back(Document<T>{doc.id, doc.value.template get<T>(), doc.version});
        }
        return out;
    }
    /// @brief How many documents match the filter (ignoring order, paging and select).
    [[nodiscard]] std::int64_t count() const {
        return docs_.count(this->spec_.filter(), this->spec_.includes_deleted());
    }

  private:
    friend class Documents;
    explicit Query(Documents docs) : docs_(std::move(docs)) {}
    Documents docs_;
};

template <typename T>
Query<T> Documents::query() const {
    return Query<T>(*this);
}

}  // namespace rillflow
