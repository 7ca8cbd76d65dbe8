// query.cpp: Predicate and QuerySpec build the JSON query spec of DESIGN.md. They check only
// what the client can know (arities, page numbers, parameter names); paths, operators and
// value types are validated by the server, which names the bad part of the spec.
#include <cstdio>
#include <ctime>
#include <string>
#include <utility>

#include "rillflow/documents.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/sql.hpp"

namespace rillflow {

using nlohmann::json;

Predicate Predicate::compare(const char* op, std::string path, json value) {
    return Predicate(json{{op, json::array({std::move(path), std::move(value)})}});
}

Predicate Predicate::eq(std::string path, json value) {
    return compare("eq", std::move(path), std::move(value));
}
Predicate Predicate::ne(std::string path, json value) {
    return compare("ne", std::move(path), std::move(value));
}
Predicate Predicate::gt(std::string path, json value) {
    return compare("gt", std::move(path), std::move(value));
}
Predicate Predicate::gte(std::string path, json value) {
    return compare("gte", std::move(path), std::move(value));
}
Predicate Predicate::lt(std::string path, json value) {
    return compare("lt", std::move(path), std::move(value));
}
Predicate Predicate::lte(std::string path, json value) {
    return compare("lte", std::move(path), std::move(value));
}
Predicate Predicate::in(std::string path, std::vector<json> values) {
    return compare("in", std::move(path), json(std::move(values)));
}
Predicate Predicate::nin(std::string path, std::vector<json> values) {
    return compare("nin", std::move(path), json(std::move(values)));
}
Predicate Predicate::contains(std::string path, json value) {
    return compare("contains", std::move(path), std::move(value));
}
Predicate Predicate::exists(std::string path) {
    return Predicate(json{{"exists", std::move(path)}});
}
Predicate Predicate::like(std::string path, std::string pattern) {
    return compare("like", std::move(path), std::move(pattern));
}
Predicate Predicate::ilike(std::string path, std::string pattern) {
    return compare("ilike", std::move(path), std::move(pattern));
}

// One flat list: the parts of a nested predicate with the same operator are taken in, empty
// predicates are dropped, and a single part stands for itself.
Predicate Predicate::combine(const char* op, std::vector<Predicate> parts) {
    json list = json::array();
    for (Predicate& p : parts) {
        if (p.empty()) continue;
        if (p.spec_.is_object() && p.spec_.size() == 1 && p.spec_.contains(op) &&
            p.spec_[op].is_array()) {
            for (json& inner : p.spec_[op]) list.push_back(std::move(inner));
        } else {
            list.push_back(std::move(p.spec_));
        }
    }
    if (list.empty()) return Predicate();
    if (list.size() == 1) return Predicate(std::move(list[0]));
    return Predicate(json{{op, std::move(list)}});
}

Predicate Predicate::and_(std::vector<Predicate> parts) { return combine("and", std::move(parts)); }
Predicate Predicate::or_(std::vector<Predicate> parts) { return combine("or", std::move(parts)); }

Predicate Predicate::not_(Predicate part) {
    if (part.empty()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "Predicate::not_ of an empty predicate",
                              "An empty predicate matches every document; its negation would "
                              "match none, which is never what a query means.");
    }
    return Predicate(json{{"not", std::move(part.spec_)}});
}

json Predicate::timestamp(std::chrono::system_clock::time_point t) {
    return json{{"$timestamp", format_timestamp(t)}};
}

Predicate Predicate::from_json(json spec) { return Predicate(std::move(spec)); }

Predicate operator&&(Predicate a, Predicate b) {
    return Predicate::and_({std::move(a), std::move(b)});
}
Predicate operator||(Predicate a, Predicate b) {
    return Predicate::or_({std::move(a), std::move(b)});
}
Predicate operator!(Predicate a) { return Predicate::not_(std::move(a)); }

void QuerySpec::filter(Predicate p) { filter_ = std::move(filter_) && std::move(p); }

void QuerySpec::order_by(std::string path, SortDirection direction, NullsOrder nulls) {
    json key{{"path", std::move(path)},
             {"direction", direction == SortDirection::Desc ? "desc" : "asc"}};
    if (nulls == NullsOrder::First) key["nulls"] = "first";
    if (nulls == NullsOrder::Last) key["nulls"] = "last";
    order_by_.push_back(std::move(key));
}

void QuerySpec::limit(std::int64_t n) {
    if (n < 0)
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "limit must be 0 or more, not " + std::to_string(n));
    limit_ = n;
    page_.reset();
    page_size_.reset();
}

void QuerySpec::offset(std::int64_t n) {
    if (n < 0)
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "offset must be 0 or more, not " + std::to_string(n));
    offset_ = n;
    page_.reset();
    page_size_.reset();
}

void QuerySpec::page(std::int64_t page, std::int64_t page_size) {
    if (page < 1) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "page must be 1 or more, not " + std::to_string(page),
                              "Pages are numbered from 1.");
    }
    if (page_size < 1) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "page_size must be 1 or more, not " + std::to_string(page_size));
    }
    page_ = page;
    page_size_ = page_size;
    limit_.reset();
    offset_.reset();
}

void QuerySpec::select_fields(const std::vector<std::string>& paths) {
    for (const std::string& path : paths) select_field(path, path);
}

void QuerySpec::select_field(std::string output, std::string path) {
    if (output.empty())
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "select: the output field name is empty");
    if (!select_.is_object()) select_ = json::object();
    select_[std::move(output)] = std::move(path);
}

void QuerySpec::include_deleted(bool on) { include_deleted_ = on; }

json QuerySpec::to_json() const {
    json spec = json::object();
    if (!filter_.empty()) spec["filter"] = filter_.to_json();
    if (!order_by_.empty()) spec["order_by"] = order_by_;
    if (limit_) spec["limit"] = *limit_;
    if (offset_) spec["offset"] = *offset_;
    if (page_) {
        spec["page"] = *page_;
        spec["page_size"] = *page_size_;
    }
    if (select_.is_object()) spec["select"] = select_;
    if (include_deleted_) spec["include_deleted"] = true;
    return spec;
}

QueryContext& QueryContext::collection(std::string name) {
    collection_ = std::move(name);
    return *this;
}

json QueryContext::param(std::string_view name) {
    bool ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            ok = false;
        }
    }
    if (!ok) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "invalid compiled query parameter name \"" + std::string(name) + "\"",
                              "A parameter name is letters, digits and _, not starting with a "
                              "digit.");
    }
    return json("$" + std::string(name));
}

CompiledQueryBase::~CompiledQueryBase() = default;

}  // namespace rillflow
