// documents.cpp: the document API, each call one statement of the SQL API with bound
// parameters (the collection name and the paths too: the server validates them).
#include "rillflow/documents.hpp"

#include <map>
#include <set>
#include <typeinfo>

#include "rillflow/errors.hpp"
#include "rillflow/transaction.hpp"
#include "run.hpp"
#include "trace.hpp"

namespace rillflow {

using nlohmann::json;

namespace {

std::int64_t one_int(detail::Connection& c, const char* sql, const Params& params,
                     std::string_view function) {
    Result r = c.exec(sql, params);
    const std::string_view value = detail::single(r, function);
    if (r.is_null(0, 0)) {
        throw SqlError(sqlstate::internal_error,
                       "rillflow." + std::string(function) + " returned NULL");
    }
    return detail::to_int64(value);
}

bool one_bool(detail::Connection& c, const char* sql, const Params& params,
              std::string_view function) {
    Result r = c.exec(sql, params);
    return detail::single(r, function) == "t";
}

}  // namespace

Documents Documents::collection(std::string name) const {
    return Documents(store_, tx_, std::move(name));
}

std::int64_t Documents::put(const Uuid& id, const json& data,
                            std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.put");
    op.collection(collection_);
    const Params params = {collection_, id, data, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_int(c, "SELECT rillflow.doc_put($1::text, $2::uuid, $3::jsonb, $4::bigint)",
                       params, "doc_put");
    });
}

std::optional<Document<json>> Documents::get_json(const Uuid& id) const {
    detail::Operation op(*store_, "doc.get");
    op.collection(collection_);
    const Params params = {collection_, id};
    return detail::run_read(
        store_, tx_, [&](detail::Connection& c) -> std::optional<Document<json>> {
            Result r =
                c.exec("SELECT data, version FROM rillflow.doc_get($1::text, $2::uuid)", params);
            if (r.empty()) return std::nullopt;
            return Document<json>{id, detail::json_at(r, 0, 0), detail::to_int64(r.value(0, 1))};
        });
}

std::vector<Document<json>> Documents::get_many_json(const std::vector<Uuid>& ids) const {
    detail::Operation op(*store_, "doc.get_many");
    op.collection(collection_);
    if (ids.empty()) return {};
    const Params params = {collection_, detail::uuid_array(ids)};
    Result r = detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return c.exec("SELECT id, data, version FROM rillflow.doc_get_many($1::text, $2::uuid[])",
                      params);
    });
    std::map<Uuid, Document<json>> found;
    for (std::size_t i = 0; i < r.size(); ++i) {
        const Uuid id = detail::to_uuid(r.value(i, 0));
        found[id] = Document<json>{id, detail::json_at(r, i, 1), detail::to_int64(r.value(i, 2))};
    }
    std::vector<Document<json>> out;
    std::set<Uuid> seen;
    for (const Uuid& id : ids) {
        auto it = found.find(id);
        if (it != found.end() && seen.insert(id).second) out.push_back(it->second);
    }
    return out;
}

std::int64_t Documents::update(const Uuid& id, const json& data,
                               std::int64_t expected_version) const {
    detail::Operation op(*store_, "doc.update");
    op.collection(collection_);
    const Params params = {collection_, id, data, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_int(c, "SELECT rillflow.doc_update($1::text, $2::uuid, $3::jsonb, $4::bigint)",
                       params, "doc_update");
    });
}

void Documents::throw_missing(const Uuid& id) const {
    throw NotFound(
        sqlstate::not_found,
        "document " + id.to_string() + " not found in collection \"" + collection_ + "\"",
        "It does not exist or is soft-deleted.");
}

void Documents::throw_conflict(const Uuid& id, std::int64_t expected, std::int64_t actual) const {
    throw DocumentVersionConflict(sqlstate::document_version_conflict,
                                  "document " + id.to_string() + " in collection \"" + collection_ +
                                      "\" is not at the expected version",
                                  "Expected version " + std::to_string(expected) +
                                      ", the document is at version " + std::to_string(actual) +
                                      ".",
                                  "Load the document again and retry.");
}

std::int64_t Documents::patch(const Uuid& id, std::string_view path, const json& value,
                              std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.patch");
    op.collection(collection_);
    const Params params = {collection_, id, path, value, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_int(
            c, "SELECT rillflow.doc_patch($1::text, $2::uuid, $3::text, $4::jsonb, $5::bigint)",
            params, "doc_patch");
    });
}

std::int64_t Documents::patch_fields(const Uuid& id, const json& fields,
                                     std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.patch");
    op.collection(collection_);
    const Params params = {collection_, id, fields, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_int(
            c, "SELECT rillflow.doc_patch_fields($1::text, $2::uuid, $3::jsonb, $4::bigint)",
            params, "doc_patch_fields");
    });
}

bool Documents::soft_delete(const Uuid& id, std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.soft_delete");
    op.collection(collection_);
    const Params params = {collection_, id, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.doc_soft_delete($1::text, $2::uuid, $3::bigint)",
                        params, "doc_soft_delete");
    });
}

bool Documents::restore(const Uuid& id, std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.restore");
    op.collection(collection_);
    const Params params = {collection_, id, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.doc_restore($1::text, $2::uuid, $3::bigint)", params,
                        "doc_restore");
    });
}

bool Documents::remove(const Uuid& id, std::optional<std::int64_t> expected_version) const {
    detail::Operation op(*store_, "doc.delete");
    op.collection(collection_);
    const Params params = {collection_, id, expected_version};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.doc_delete($1::text, $2::uuid, $3::bigint)", params,
                        "doc_delete");
    });
}

std::vector<json> Documents::query_json(const json& spec) const {
    detail::Operation op(*store_, "doc.query");
    op.collection(collection_);
    const Params params = {collection_, spec};
    Result r = detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return c.exec("SELECT q FROM rillflow.doc_query($1::text, $2::jsonb) AS q", params);
    });
    op.count(static_cast<std::int64_t>(r.size()), "rillflow.document_count");
    std::vector<json> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) out.push_back(detail::json_at(r, i, 0));
    return out;
}

std::vector<Document<json>> Documents::query_documents_json(const QuerySpec& spec) const {
    QuerySpec whole = spec;
    whole.select_field("id", "$id");
    whole.select_field("version", "$version");
    whole.select_field("data", "$data");
    std::vector<Document<json>> out;
    for (auto& row : query_json(whole.to_json())) {
        out.push_back(Document<json>{Uuid::parse(row.at("id").get<std::string>()),
                                     std::move(row.at("data")),
                                     row.at("version").get<std::int64_t>()});
    }
    return out;
}

std::int64_t Documents::count(const Predicate& filter, bool include_deleted) const {
    detail::Operation op(*store_, "doc.count");
    op.collection(collection_);
    const Params params = {collection_, filter.empty() ? Param::null() : Param(filter.to_json()),
                           include_deleted};
    return detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return one_int(c, "SELECT rillflow.doc_count($1::text, $2::jsonb, $3::boolean)", params,
                       "doc_count");
    });
}

std::vector<json> Documents::execute_compiled_json(const CompiledQueryBase& query,
                                                   const json& params) const {
    detail::Operation op(*store_, "doc.compiled_query");
    op.collection(collection_);
    const std::string name = query.name();
    if (name.empty())
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "a compiled query's name() is empty");
    if (!params.is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "the parameters of compiled query \"" + name +
                                  "\" must be a JSON object, not " +
                                  std::string(params.type_name()));
    }
    // Registers the query (configure() + compile_query) unless this Store already did. A
    // registration made inside a transaction is not remembered: the transaction may roll back.
    auto compile = [&](detail::Connection& c, bool force) {
        std::lock_guard<std::mutex> lock(store_->compiled_mutex);
        auto it = store_->compiled.find(name);
        const std::string type = typeid(query).name();
        if (it != store_->compiled.end()) {
            if (it->second["type"] != type) {
                throw InvalidArgument(
                    sqlstate::invalid_parameter_value,
                    "two compiled query classes use the name \"" + name + "\"",
                    "This Store registered \"" + name + "\" for another class first.",
                    "Give each compiled query class its own name().");
            }
            if (!force) return;
        }
        QueryContext ctx(collection_);
        query.configure(ctx);
        const json spec = ctx.spec().to_json();
        c.exec("SELECT rillflow.compile_query($1::text, $2::text, $3::jsonb)",
               {name, ctx.collection(), spec});
        if (!tx_) store_->compiled[name] = json{{"type", type}, {"collection", ctx.collection()}};
    };
    auto run = [&](detail::Connection& c) {
        Result r =
            c.exec("SELECT q FROM rillflow.run_query($1::text, $2::jsonb) AS q", {name, params});
        std::vector<json> out;
        out.reserve(r.size());
        for (std::size_t i = 0; i < r.size(); ++i) out.push_back(detail::json_at(r, i, 0));
        return out;
    };
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        compile(c, false);
        if (!tx_) {
            try {
                return run(c);
            } catch (const NotFound&) {
                // Dropped (or never compiled in this store) since this Store registered it.
                compile(c, true);
                return run(c);
            }
        }
        // In a transaction a failed statement would end it: try under a savepoint (any other
        // error rolls back to it as the guard dies).
        Savepoint savepoint = Savepoint::set(tx_);
        try {
            auto rows = run(c);
            savepoint.release();
            return rows;
        } catch (const NotFound&) {
            savepoint.rollback();
            compile(c, true);
            return run(c);
        }
    });
}

void Documents::drop_compiled(std::string_view name) const {
    const Params params = {name};
    {
        // Forgotten first: whatever the server says, the next run registers it again.
        std::lock_guard<std::mutex> lock(store_->compiled_mutex);
        store_->compiled.erase(std::string(name));
    }
    detail::run_on(store_, tx_, [&](detail::Connection& c) {
        c.exec("SELECT rillflow.drop_query($1::text)", params);
        return 0;
    });
}

bool Documents::create_collection(std::string_view name) const {
    const Params params = {name};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.create_collection($1::text)", params,
                        "create_collection");
    });
}

bool Documents::drop_collection(std::string_view name) const {
    const Params params = {name};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.drop_collection($1::text)", params, "drop_collection");
    });
}

std::vector<CollectionInfo> Documents::list_collections() const {
    Result r = detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return c.exec(
            "SELECT name, table_name, duplicated_fields, "
            "(extract(epoch FROM created_at) * 1000000)::bigint "
            "FROM rillflow.list_collections() ORDER BY name");
    });
    std::vector<CollectionInfo> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
        CollectionInfo info;
        info.name = std::string(r.value(i, 0));
        info.table_name = std::string(r.value(i, 1));
        info.duplicated_fields = static_cast<int>(detail::to_int64(r.value(i, 2)));
        info.created_at = detail::time_at(r, i, 3);
        out.push_back(std::move(info));
    }
    return out;
}

void Documents::add_duplicated_field(const DuplicatedField& field) const {
    const Params params = {collection_, field.path,    field.column_name,
                           field.type,  field.indexed, field.transform};
    detail::run_on(store_, tx_, [&](detail::Connection& c) {
        c.exec(
            "SELECT rillflow.add_duplicated_field($1::text, $2::text, $3::text, $4::text, "
            "$5::boolean, $6::text)",
            params);
        return 0;
    });
}

bool Documents::drop_duplicated_field(std::string_view column_name) const {
    const Params params = {collection_, column_name};
    return detail::run_on(store_, tx_, [&](detail::Connection& c) {
        return one_bool(c, "SELECT rillflow.drop_duplicated_field($1::text, $2::text)", params,
                        "drop_duplicated_field");
    });
}

std::vector<DuplicatedField> Documents::list_duplicated_fields() const {
    const Params params = {collection_};
    Result r = detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return c.exec(
            "SELECT path, column_name, type, indexed, transform "
            "FROM rillflow.list_duplicated_fields($1::text) ORDER BY column_name",
            params);
    });
    std::vector<DuplicatedField> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
        DuplicatedField f;
        f.path = std::string(r.value(i, 0));
        f.column_name = std::string(r.value(i, 1));
        f.type = std::string(r.value(i, 2));
        f.indexed = r.value(i, 3) == "t";
        f.transform = r.get(i, 4);
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<IndexAdvice> Documents::index_advisor(std::string_view path, bool gin) const {
    const Params params = {collection_, path, gin};
    Result r = detail::run_read(store_, tx_, [&](detail::Connection& c) {
        return c.exec(
            "SELECT to_jsonb(a) FROM rillflow.index_advisor($1::text, $2::text, $3::boolean) "
            "AS a",
            params);
    });
    std::vector<IndexAdvice> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
        IndexAdvice a;
        a.raw = detail::json_at(r, i, 0);
        auto text = [&](const char* key) {
            return a.raw.is_object() && a.raw.contains(key) && a.raw[key].is_string()
                       ? a.raw[key].get<std::string>()
                       : std::string();
        };
        a.kind = text("kind");
        a.ddl = text("ddl");
        a.reason = text("reason");
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace rillflow
