// cli/docs.cpp: the `rillflow docs` commands: documents by id, queries, counts, collections,
// duplicated fields and the index advisor. Each is one or two calls of store.docs().
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

nlohmann::json parse_json(const std::string& text, const std::string& what) {
    return cli::parse_json(text, what, "'{\"email\": \"ann@example.com\"}'");
}

// A JSON argument given inline, as @file, or as - (stdin).
nlohmann::json read_json_arg(const std::string& arg, const std::string& what) {
    if (arg == "-") {
        std::string input(std::istreambuf_iterator<char>(std::cin), {});
        return parse_json(input, what + " (stdin)");
    }
    if (!arg.empty() && arg[0] == '@') {
        const std::string path = arg.substr(1);
        std::ifstream in(path, std::ios::binary);
        if (!in)
            invalid(sqlstate::undefined_file,
                    "could not read " + what + " from file \"" + path + "\"");
        std::ostringstream text;
        text << in.rdbuf();
        return parse_json(text.str(), what + " (" + path + ")");
    }
    return parse_json(arg, what);
}

Uuid parse_id(const std::string& text) {
    if (auto id = Uuid::try_parse(text)) return *id;
    invalid(sqlstate::invalid_text_representation, "document id is not a uuid: \"" + text + "\"",
            "Document ids are uuids, e.g. 3c172970-5e88-45fb-a626-8373fd46566a.");
}

// `path`, `path:asc` or `path:desc`.
void add_order(QuerySpec& spec, const std::string& text) {
    std::string path = text;
    SortDirection direction = SortDirection::Asc;
    auto colon = text.rfind(':');
    if (colon != std::string::npos) {
        std::string dir = text.substr(colon + 1);
        path = text.substr(0, colon);
        if (dir == "desc")
            direction = SortDirection::Desc;
        else if (dir != "asc")
            throw UsageError("--order-by " + text + ": the direction must be asc or desc");
    }
    if (path.empty()) throw UsageError("--order-by needs a path, e.g. --order-by email:desc");
    spec.order_by(path, direction, NullsOrder::Default);
}

std::string version_text(std::int64_t v) { return "version " + std::to_string(v); }

// --collection on every command that acts on one collection.
void collection_option(CLI::App* cmd, std::string& target) {
    cmd->add_option("--collection,-c", target, "The collection (default: docs)");
}

// --expected-version N (N >= 0; 0 = must be new).
void expected_option(CLI::App* cmd, std::optional<std::int64_t>& target) {
    cmd->add_option("--expected-version", target,
                    "Fail with RF003 unless the document is at this version (0: must be new)")
        ->check(at_least(0));
}

}  // namespace

void add_docs_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* docs = app.add_subcommand("docs", "Documents: get, put, query, collections");
    docs->require_subcommand(1);

    // docs get <id>
    {
        struct Args {
            std::string id, collection = "docs";
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = docs->add_subcommand("get", "Print a document and its version");
        cmd->add_option("id", a->id, "The document's id (a uuid)")->required();
        collection_option(cmd, a->collection);
        commands.add(cmd, [&ctx, a] {
            const Uuid id = parse_id(a->id);
            auto doc = ctx.store().docs(a->collection).get(id);
            if (!doc) {
                throw NotFound(sqlstate::not_found,
                               "document " + id.to_string() + " not found in collection \"" +
                                   a->collection + "\"",
                               "It does not exist or is soft-deleted.");
            }
            if (ctx.json) {
                print_json({{"id", id.to_string()},
                            {"collection", a->collection},
                            {"version", doc->version},
                            {"data", doc->value}});
            } else {
                print_line(id.to_string() + "  " + version_text(doc->version));
                print_json(doc->value);
            }
            return 0;
        });
    }

    // docs put <id> <json|@file|-> [--expected-version N]
    {
        struct Args {
            std::string id, data, collection = "docs";
            std::optional<std::int64_t> expected;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = docs->add_subcommand("put", "Insert or replace a document");
        cmd->add_option("id", a->id, "The document's id (a uuid)")->required();
        cmd->add_option("data", a->data, "The document: a JSON object, @file, or - for stdin")
            ->required();
        collection_option(cmd, a->collection);
        expected_option(cmd, a->expected);
        commands.add(cmd, [&ctx, a] {
            const Uuid id = parse_id(a->id);
            nlohmann::json data = read_json_arg(a->data, "the document");
            std::int64_t v = ctx.store().docs(a->collection).put(id, data, a->expected);
            if (ctx.json)
                print_json({{"id", id.to_string()}, {"collection", a->collection}, {"version", v}});
            else
                print_line("put " + id.to_string() + ": " + version_text(v));
            return 0;
        });
    }

    // docs soft-delete | restore | delete <id> [--expected-version N]
    for (const char* verb : {"soft-delete", "restore", "delete"}) {
        struct Args {
            std::string id, collection = "docs";
            std::optional<std::int64_t> expected;
        };
        auto a = std::make_shared<Args>();
        const std::string name = verb;
        const char* help = name == "soft-delete" ? "Mark a document deleted (restore undoes it)"
                           : name == "restore"   ? "Undo a soft delete"
                                                 : "Delete a document for good";
        CLI::App* cmd = docs->add_subcommand(name, help);
        cmd->add_option("id", a->id, "The document's id (a uuid)")->required();
        collection_option(cmd, a->collection);
        expected_option(cmd, a->expected);
        commands.add(cmd, [&ctx, a, name] {
            const Uuid id = parse_id(a->id);
            Documents d = ctx.store().docs(a->collection);
            Json out{{"id", id.to_string()}, {"collection", a->collection}};
            std::string line;
            if (name == "delete") {
                bool deleted = d.remove(id, a->expected);
                out["deleted"] = deleted;
                line = (deleted ? "deleted " : "no such document: ") + id.to_string();
            } else if (name == "restore") {
                bool restored = d.restore(id, a->expected);
                out["restored"] = restored;
                line = (restored ? "restored " : "no soft-deleted document: ") + id.to_string();
            } else {
                bool deleted = d.soft_delete(id, a->expected);
                out["soft_deleted"] = deleted;
                line = (deleted ? "soft-deleted " : "no live document: ") + id.to_string();
            }
            if (ctx.json)
                print_json(out);
            else
                print_line(line);
            return 0;
        });
    }

    // docs query [--filter JSON] [--order-by path[:desc]]... [--limit N] [--offset N]
    //            [--select a,b] [--include-deleted]
    {
        struct Args {
            std::string collection = "docs", filter;
            std::vector<std::string> order_by, select;
            std::optional<std::int64_t> limit, offset;
            bool include_deleted = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = docs->add_subcommand("query", "Print the documents that match a filter");
        collection_option(cmd, a->collection);
        cmd->add_option("--filter", a->filter,
                        "A predicate of the query spec as JSON, @file or -, e.g. "
                        "'{\"eq\": [\"status\", \"active\"]}'");
        cmd->add_option("--order-by", a->order_by, "Sort by path[:asc|desc]; repeat for more keys");
        cmd->add_option("--limit", a->limit, "At most N documents")->check(at_least(0));
        cmd->add_option("--offset", a->offset, "Skip N documents")->check(at_least(0));
        cmd->add_option("--select", a->select,
                        "Print these paths instead of the documents (comma-separated; $id and "
                        "$version are the id and version)")
            ->delimiter(',');
        cmd->add_flag("--include-deleted", a->include_deleted, "Include soft-deleted documents");
        commands.add(cmd, [&ctx, a] {
            QuerySpec spec;
            if (!a->filter.empty())
                spec.filter(Predicate::from_json(read_json_arg(a->filter, "--filter")));
            for (const auto& o : a->order_by) add_order(spec, o);
            if (a->limit) spec.limit(*a->limit);
            if (a->offset) spec.offset(*a->offset);
            if (!a->select.empty()) spec.select_fields(a->select);
            spec.include_deleted(a->include_deleted);
            auto rows = ctx.store().docs(a->collection).query_json(spec.to_json());
            if (ctx.json) {
                print_json(
                    {{"collection", a->collection}, {"count", rows.size()}, {"rows", Json(rows)}});
            } else {
                for (const auto& row : rows) print_json(row, true);
            }
            return 0;
        });
    }

    // docs count [--filter JSON] [--include-deleted]
    {
        struct Args {
            std::string collection = "docs", filter;
            bool include_deleted = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = docs->add_subcommand("count", "Count the documents that match a filter");
        collection_option(cmd, a->collection);
        cmd->add_option("--filter", a->filter, "A predicate as JSON, @file or - (default: all)");
        cmd->add_flag("--include-deleted", a->include_deleted, "Count soft-deleted documents too");
        commands.add(cmd, [&ctx, a] {
            Predicate filter;
            if (!a->filter.empty())
                filter = Predicate::from_json(read_json_arg(a->filter, "--filter"));
            std::int64_t n = ctx.store().docs(a->collection).count(filter, a->include_deleted);
            if (ctx.json)
                print_json({{"collection", a->collection}, {"count", n}});
            else
                print_line(std::to_string(n));
            return 0;
        });
    }

    // docs index-advisor --field PATH [--gin]
    {
        struct Args {
            std::string collection = "docs", field;
            bool gin = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = docs->add_subcommand(
            "index-advisor", "Print the index the server recommends for queries on a field");
        collection_option(cmd, a->collection);
        cmd->add_option("--field", a->field, "The dotted path queried, e.g. email")->required();
        cmd->add_flag("--gin", a->gin, "Advise for containment (jsonb @>) queries");
        commands.add(cmd, [&ctx, a] {
            auto advice = ctx.store().docs(a->collection).index_advisor(a->field, a->gin);
            if (ctx.json) {
                Json list = Json::array();
                for (const auto& x : advice) list.push_back(Json(x.raw));
                print_json({{"collection", a->collection}, {"field", a->field}, {"advice", list}});
            } else {
                for (const auto& x : advice) {
                    print_line("-- " + x.kind + ": " + x.reason);
                    print_line(x.ddl);
                }
            }
            return 0;
        });
    }

    // docs duplicated-fields add|list|drop
    {
        CLI::App* dup =
            docs->add_subcommand("duplicated-fields", "Columns kept equal to a document path");
        dup->require_subcommand(1);
        {
            struct Args {
                std::string collection = "docs", path, column, type, transform;
                bool no_index = false;
            };
            auto a = std::make_shared<Args>();
            CLI::App* cmd = dup->add_subcommand("add", "Add a duplicated field (and backfill it)");
            collection_option(cmd, a->collection);
            cmd->add_option("--path", a->path, "The dotted path, e.g. profile.email")->required();
            cmd->add_option("--column", a->column, "The column's name")->required();
            cmd->add_option("--type", a->type,
                            "text, integer, bigint, numeric, boolean, timestamptz or uuid")
                ->required();
            cmd->add_option("--transform", a->transform,
                            "An expression over {value}, e.g. 'lower({value})'");
            cmd->add_flag("--no-index", a->no_index, "Do not index the column");
            commands.add(cmd, [&ctx, a] {
                DuplicatedField f;
                f.path = a->path;
                f.column_name = a->column;
                f.type = a->type;
                f.indexed = !a->no_index;
                if (!a->transform.empty()) f.transform = a->transform;
                ctx.store().docs(a->collection).add_duplicated_field(f);
                if (ctx.json)
                    print_json({{"collection", a->collection},
                                {"path", f.path},
                                {"column_name", f.column_name},
                                {"type", f.type},
                                {"indexed", f.indexed},
                                {"transform", f.transform ? Json(*f.transform) : Json(nullptr)}});
                else
                    print_line("added duplicated field " + f.column_name + " (" + f.path + " " +
                               f.type + ") to " + a->collection);
                return 0;
            });
        }
        {
            auto collection = std::make_shared<std::string>("docs");
            CLI::App* cmd = dup->add_subcommand("list", "List a collection's duplicated fields");
            collection_option(cmd, *collection);
            commands.add(cmd, [&ctx, collection] {
                auto fields = ctx.store().docs(*collection).list_duplicated_fields();
                if (ctx.json) {
                    Json list = Json::array();
                    for (const auto& f : fields)
                        list.push_back(
                            {{"path", f.path},
                             {"column_name", f.column_name},
                             {"type", f.type},
                             {"indexed", f.indexed},
                             {"transform", f.transform ? Json(*f.transform) : Json(nullptr)}});
                    print_json({{"collection", *collection}, {"fields", list}});
                } else {
                    for (const auto& f : fields)
                        print_line(f.column_name + "  " + f.path + "  " + f.type +
                                   (f.indexed ? "  indexed" : "") +
                                   (f.transform ? "  " + *f.transform : ""));
                }
                return 0;
            });
        }
        {
            struct Args {
                std::string collection = "docs", column;
            };
            auto a = std::make_shared<Args>();
            CLI::App* cmd = dup->add_subcommand("drop", "Drop a duplicated field");
            cmd->add_option("column", a->column, "The column's name")->required();
            collection_option(cmd, a->collection);
            commands.add(cmd, [&ctx, a] {
                bool dropped = ctx.store().docs(a->collection).drop_duplicated_field(a->column);
                if (ctx.json)
                    print_json({{"collection", a->collection},
                                {"column_name", a->column},
                                {"dropped", dropped}});
                else
                    print_line((dropped ? "dropped duplicated field " : "no such field: ") +
                               a->column);
                return 0;
            });
        }
    }

    // docs collections list|create|drop
    {
        CLI::App* coll = docs->add_subcommand("collections", "List, create and drop collections");
        coll->require_subcommand(1);
        {
            CLI::App* cmd = coll->add_subcommand("list", "List the store's collections");
            commands.add(cmd, [&ctx] {
                auto list = ctx.store().docs().list_collections();
                if (ctx.json) {
                    Json out = Json::array();
                    for (const auto& c : list)
                        out.push_back({{"name", c.name},
                                       {"table_name", c.table_name},
                                       {"duplicated_fields", c.duplicated_fields},
                                       {"created_at", format_timestamp(c.created_at)}});
                    print_json({{"collections", out}});
                } else {
                    for (const auto& c : list)
                        print_line(c.name + "  " + c.table_name + "  " +
                                   format_timestamp(c.created_at));
                }
                return 0;
            });
        }
        for (const char* verb : {"create", "drop"}) {
            auto name = std::make_shared<std::string>();
            const bool create = std::string(verb) == "create";
            CLI::App* cmd =
                coll->add_subcommand(verb, create ? "Create a collection unless it exists"
                                                  : "Drop a collection and its documents");
            cmd->add_option("name", *name, "a-z, 0-9 and _, starting with a letter, at most 48")
                ->required();
            commands.add(cmd, [&ctx, name, create] {
                Documents d = ctx.store().docs();
                bool done = create ? d.create_collection(*name) : d.drop_collection(*name);
                if (ctx.json) {
                    print_json({{"collection", *name}, {create ? "created" : "dropped", done}});
                } else if (create) {
                    print_line((done ? "created collection " : "collection exists: ") + *name);
                } else {
                    print_line((done ? "dropped collection " : "no such collection: ") + *name);
                }
                return 0;
            });
        }
    }
}

}  // namespace rillflow::cli
