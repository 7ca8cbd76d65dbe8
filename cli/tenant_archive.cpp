// cli/tenant_archive.cpp: `rillflow tenants archive` and `rillflow tenants restore`.
//
// An archive is a folder: store.dump (pg_dump --format=custom of the tenant's store schema
// and nothing else) and manifest.json (what the store was and held when dumped). archive
// takes the manifest's numbers and the dump from one snapshot (a REPEATABLE READ transaction
// that exports its snapshot to pg_dump), so they agree. restore checks the manifest against
// the arguments and the dump, refuses a live tenant, restores the schema with pg_restore
// (in one transaction, as the extension's owner, without the old grants), then asks the
// server to take it back as a store (rillflow._register_restored_store, which checks its
// owner and shape: docs/tenancy.md, "Archive and restore"), and checks the counts against
// the manifest. Whatever fails after pg_restore leaves nothing behind.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "context.hpp"
#include "output.hpp"

extern char** environ;

namespace rillflow::cli {

namespace {

namespace fs = std::filesystem;

constexpr char kFormat[] = "rillflow-tenant-archive";
constexpr int kFormatVersion = 1;
constexpr char kDumpFile[] = "store.dump";
constexpr char kManifestFile[] = "manifest.json";

bool executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

// pg_dump or pg_restore: from PG_BINDIR, else PATH, else `pg_config --bindir`.
std::string find_pg_tool(const std::string& name) {
    if (const char* dir = std::getenv("PG_BINDIR"); dir != nullptr && *dir != '\0') {
        fs::path p = fs::path(dir) / name;
        if (executable(p)) return p.string();
        throw_error("58P01", "could not find " + name + " in PG_BINDIR (" + dir + ")", {},
                    "Set PG_BINDIR to the folder that holds the PostgreSQL client programs.");
    }
    if (const char* path = std::getenv("PATH"); path != nullptr) {
        std::stringstream dirs(path);
        std::string dir;
        while (std::getline(dirs, dir, ':')) {
            if (dir.empty()) continue;
            fs::path p = fs::path(dir) / name;
            if (executable(p)) return p.string();
        }
    }
    if (FILE* f = ::popen("pg_config --bindir 2>/dev/null", "r"); f != nullptr) {
        char line[4096] = {0};
        bool read = std::fgets(line, sizeof(line), f) != nullptr;
        ::pclose(f);
        std::string dir = read ? std::string(line) : std::string();
        while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
        if (!dir.empty() && executable(fs::path(dir) / name))
            return (fs::path(dir) / name).string();
    }
    throw_error("58P01", "could not find " + name,
                "Looked in PG_BINDIR, PATH and pg_config --bindir.",
                "Install the PostgreSQL client programs of the server's major version, or set "
                "PG_BINDIR to the folder that holds " +
                    name + ".");
}

// Runs a program with these arguments (no shell); its exit code.
int run_program(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
    if (rc != 0) throw_error("58000", "could not run " + argv[0] + ": " + std::strerror(rc));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw_error("58000", "could not wait for " + argv[0]);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<std::int64_t> opt_int(const Result& r, int col) {
    if (r.is_null(0, col)) return std::nullopt;
    return std::stoll(std::string(r.value(0, col)));
}

Json json_of(const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

// The counts a manifest records and a restore checks.
Json counts_of(const TenantInfo& t) {
    return {{"streams", json_of(t.streams)},
            {"events", json_of(t.events)},
            {"documents", json_of(t.documents)},
            {"projections", json_of(t.projections)}};
}

void write_file(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw_error("58030", "could not write " + p.string());
}

Json read_manifest(const fs::path& dir) {
    fs::path p = dir / kManifestFile;
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        throw_error("58P01", "could not read " + p.string(), {},
                    "Give the folder that rillflow tenants archive wrote (--input).");
    }
    std::stringstream text;
    text << in.rdbuf();
    Json m = Json::parse(text.str(), nullptr, false);
    if (m.is_discarded() || !m.is_object() || m.value("format", "") != kFormat) {
        throw_error("22023", p.string() + " is not the manifest of a rillflow tenant archive");
    }
    if (m.value("format_version", 0) != kFormatVersion) {
        throw_error(
            "22023",
            "unsupported archive format version " + m.value("format_version", Json()).dump(),
            "This rillflow reads version " + std::to_string(kFormatVersion) + ".");
    }
    return m;
}

// `tenants archive <name> --output DIR`
int archive(Context& ctx, const std::string& tenant, const std::string& output) {
    fs::path dir(output);
    if (fs::exists(dir) && (!fs::is_directory(dir) || !fs::is_empty(dir))) {
        throw_error("58P02", "the archive folder " + output + " exists and is not empty", {},
                    "An archive is never written over another; give a new folder.");
    }
    std::string pg_dump = find_pg_tool("pg_dump");
    const Store& store = ctx.store();

    // One snapshot for the manifest and the dump.
    Transaction tx = store.transaction(Isolation::RepeatableRead);
    Result head_info = tx.exec(
        "SELECT pg_catalog.pg_export_snapshot(), "
        "(SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'rillflow'), "
        "pg_catalog.to_json(pg_catalog.now())::text");
    std::string snapshot(head_info.value(0, 0));
    std::string extension_version(head_info.value(0, 1));
    Json archived_at = Json::parse(std::string(head_info.value(0, 2)));
    Result s = tx.exec(
        "SELECT s.\"exists\", s.schema_name, s.schema_version, s.streams, s.events, s.documents, "
        "s.projections, pg_catalog.to_json(s.created_at)::text, "
        "pg_catalog.quote_ident(s.schema_name) "
        "FROM rillflow.tenant_status($1::text) s",
        {tenant});
    if (s.value(0, 0) != "t") {
        throw_error("RF005", "tenant \"" + tenant + "\" does not exist", {},
                    "rillflow tenants list lists the tenants.");
    }
    TenantInfo t;
    t.name = tenant;
    t.schema_name = std::string(s.value(0, 1));
    std::optional<std::int64_t> schema_version = opt_int(s, 2);
    t.streams = opt_int(s, 3);
    t.events = opt_int(s, 4);
    t.documents = opt_int(s, 5);
    t.projections = opt_int(s, 6);
    if (!t.streams || !t.events || !t.documents || !t.projections) {
        throw_error("42501", "permission denied to archive tenant \"" + tenant + "\"",
                    "This role may not read every table of the store.",
                    "Archive as the extension's owner (or a role with read on the tenant).");
    }
    Result head = tx.exec("SELECT coalesce((SELECT l.head FROM " + std::string(s.value(0, 8)) +
                          ".log_state l), 0)");

    bool made_dir = !fs::exists(dir);
    fs::create_directories(dir);
    fs::path dump = dir / kDumpFile;
    int rc = run_program({pg_dump, "--format=custom", "--schema=" + t.schema_name,
                          "--snapshot=" + snapshot, "--file=" + dump.string(),
                          "--dbname=" + ctx.database_url});
    if (rc != 0) {
        fs::remove(dump);
        if (made_dir) fs::remove(dir);
        throw_error("58000", "pg_dump failed (exit code " + std::to_string(rc) + ")", {},
                    "pg_dump's own message is above; it must be of the server's major version.");
    }
    Json manifest = {{"format", kFormat},
                     {"format_version", kFormatVersion},
                     {"tenant", tenant},
                     {"schema", t.schema_name},
                     {"schema_version", json_of(schema_version)},
                     {"extension_version", extension_version},
                     {"counts", counts_of(t)},
                     {"log_head", std::stoll(std::string(head.value(0, 0)))},
                     {"created_at", Json::parse(std::string(s.value(0, 7)))},
                     {"archived_at", archived_at},
                     {"dump", kDumpFile},
                     {"dump_bytes", static_cast<std::int64_t>(fs::file_size(dump))}};
    write_file(dir / kManifestFile, manifest.dump(2) + "\n");
    tx.commit();

    if (ctx.json) {
        print_json({{"tenant", tenant}, {"archive", dir.string()}, {"manifest", manifest}});
    } else {
        print_line("archived tenant " + tenant + " to " + dir.string() + " (" +
                   std::to_string(*t.events) + " events, " + std::to_string(*t.documents) +
                   " documents, " + std::to_string(*t.projections) + " projections)");
    }
    return 0;
}

// `tenants restore <name> --input DIR`
int restore(Context& ctx, const std::string& tenant, const std::string& input) {
    fs::path dir(input);
    Json m = read_manifest(dir);
    if (m.value("tenant", "") != tenant) {
        throw_error(
            "22023",
            "the archive in " + input + " is of tenant \"" + m.value("tenant", "") + "\", not \"" +
                tenant + "\"",
            {}, "A store keeps its tenant's name: restore it under the name it was archived as.");
    }
    fs::path dump = dir / m.value("dump", kDumpFile);
    if (!fs::exists(dump) || !m.contains("dump_bytes") ||
        static_cast<std::int64_t>(fs::file_size(dump)) != m["dump_bytes"].get<std::int64_t>()) {
        throw_error("22023", "the dump in " + input + " does not match its manifest",
                    "The manifest names " + dump.filename().string() + " of " +
                        m.value("dump_bytes", Json()).dump() + " bytes.",
                    "The archive is incomplete or was changed; archive the tenant again.");
    }
    std::string pg_restore = find_pg_tool("pg_restore");
    const Store& store = ctx.store();

    std::string schema, owner;
    std::optional<std::int64_t> current_version;
    {
        Transaction tx = store.transaction();
        Result r = tx.exec(
            "SELECT rillflow._tenant_schema($1::text), "
            "pg_catalog.to_regnamespace(rillflow._tenant_schema($1::text)) IS NOT NULL, "
            "(SELECT r.rolname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r "
            "   ON r.oid OPERATOR(pg_catalog.=) e.extowner WHERE e.extname OPERATOR(pg_catalog.=) "
            "'rillflow'), "
            "(SELECT s.schema_version FROM rillflow.tenant_status('') s), "
            "EXISTS (SELECT FROM rillflow.tenants t WHERE t.name OPERATOR(pg_catalog.=) $1::text)",
            {tenant});
        schema = std::string(r.value(0, 0));
        owner = std::string(r.value(0, 2));
        current_version = opt_int(r, 3);
        if (r.value(0, 4) == "t") {
            throw_error("42710", "tenant \"" + tenant + "\" exists",
                        "A restore never overwrites a live tenant.",
                        "Drop it first (rillflow tenants drop " + tenant +
                            " --force, after archiving it) or restore into another database.");
        }
        if (r.value(0, 1) == "t") {
            throw_error("42P06", "schema \"" + schema + "\" already exists",
                        "Something that is not a registered tenant holds the store's schema name.",
                        "Check what it holds, then drop it and restore again.");
        }
        tx.commit();
    }
    if (m.value("schema", "") != schema) {
        throw_error("22023", "the archive's schema \"" + m.value("schema", "") +
                                 "\" is not tenant \"" + tenant + "\"'s store schema \"" + schema +
                                 "\"");
    }
    if (m["schema_version"].is_number() && current_version &&
        m["schema_version"].get<std::int64_t>() > *current_version) {
        throw_error("22023",
                    "the archive's stores are at schema version " + m["schema_version"].dump() +
                        ", newer than this database's " + std::to_string(*current_version),
                    {}, "Update the extension (ALTER EXTENSION rillflow UPDATE) first.");
    }

    auto discard = [&] {
        try {
            Transaction tx = store.transaction();
            Result q = tx.exec("SELECT pg_catalog.quote_ident($1::text)", {schema});
            tx.exec("DROP SCHEMA IF EXISTS " + std::string(q.value(0, 0)) + " CASCADE");
            tx.commit();
        } catch (const Error&) {
            // the first error is the one to report
        }
    };
    // The schema, made by the extension's owner (pg_restore --schema restores what is in it,
    // not the schema itself); then its objects in one transaction, as that owner, without the
    // old grants.
    {
        Transaction tx = store.transaction();
        Result q =
            tx.exec("SELECT pg_catalog.quote_ident($1::text), pg_catalog.quote_ident($2::text)",
                    {owner, schema});
        tx.exec("SET LOCAL ROLE " + std::string(q.value(0, 0)));
        tx.exec("CREATE SCHEMA " + std::string(q.value(0, 1)));
        tx.exec("COMMENT ON SCHEMA " + std::string(q.value(0, 1)) + " IS 'rillflow store'");
        tx.commit();
    }
    int rc = run_program({pg_restore, "--dbname=" + ctx.database_url, "--no-owner",
                          "--no-privileges", "--role=" + owner, "--schema=" + schema,
                          "--single-transaction", "--exit-on-error", dump.string()});
    if (rc != 0) {
        discard();
        throw_error("58000", "pg_restore failed (exit code " + std::to_string(rc) + ")",
                    "It ran in one transaction: nothing of the archive was restored.",
                    "pg_restore's own message is above; it must be of the server's major version.");
    }
    try {
        Transaction tx = store.transaction();
        Param created_at =
            m["created_at"].is_string() ? Param(m["created_at"].get<std::string>()) : Param::null();
        Param version = m["schema_version"].is_number_integer()
                            ? Param(std::to_string(m["schema_version"].get<std::int64_t>()))
                            : Param::null();
        tx.exec("SELECT rillflow._register_restored_store($1::text, $2::timestamptz, $3::integer)",
                {tenant, created_at, version});
        tx.commit();
    } catch (const Error&) {
        discard();
        throw;
    }
    TenantStatus now = store.tenant_status(tenant);
    if (counts_of(now) != m["counts"]) {
        store.drop_tenant(tenant, true);
        throw_error("XX000", "the restored store does not hold what the archive's manifest says",
                    "Manifest: " + m["counts"].dump() + "; restored: " + counts_of(now).dump() +
                        ". The restored tenant was dropped again.");
    }
    std::int64_t head = store.for_tenant(tenant).head_position();
    if (head < m.value("log_head", std::int64_t{0})) {
        store.drop_tenant(tenant, true);
        throw_error("XX000",
                    "the restored log ends at position " + std::to_string(head) +
                        ", before the archive's head " + m["log_head"].dump(),
                    "The restored tenant was dropped again.");
    }
    if (ctx.json) {
        print_json({{"tenant", tenant},
                    {"restored", true},
                    {"schema", schema},
                    {"counts", counts_of(now)},
                    {"log_head", head}});
    } else {
        print_line("restored tenant " + tenant + " from " + dir.string() + " (" +
                   std::to_string(now.events.value_or(0)) + " events, log head " +
                   std::to_string(head) + ")");
    }
    return 0;
}

}  // namespace

void add_tenant_archive_commands(CLI::App& tenants, Context& ctx, Commands& commands) {
    {
        struct Args {
            std::string name, output;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = tenants.add_subcommand(
            "archive", "Write a portable archive of one tenant's store (pg_dump and a manifest)");
        cmd->add_option("name", a->name, "The tenant")->required();
        cmd->add_option("--output", a->output, "A new (or empty) folder for the archive")
            ->required();
        commands.add(cmd, [&ctx, a] { return archive(ctx, a->name, a->output); });
    }
    {
        struct Args {
            std::string name, input;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = tenants.add_subcommand(
            "restore", "Restore a tenant from its archive (never over a live tenant)");
        cmd->add_option("name", a->name, "The tenant, as archived")->required();
        cmd->add_option("--input", a->input, "The archive's folder")->required();
        commands.add(cmd, [&ctx, a] { return restore(ctx, a->name, a->input); });
    }
}

}  // namespace rillflow::cli
