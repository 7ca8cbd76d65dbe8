// rillflow/sqlstate.hpp: the SQLSTATEs the client raises or maps, by name.
//
// The domain codes (class RF) are the extension's own (rillflow.h defines them with
// MAKE_SQLSTATE, docs/ lists them); the others are PostgreSQL's, named as in its
// errcodes.txt (the PL/pgSQL condition names). Compare with Error::sqlstate():
// `if (e.sqlstate() == sqlstate::invalid_parameter_value)`.
#pragma once

namespace rillflow::sqlstate {

// ---- rillflow's domain errors (class RF), one exception type each --------------------------
/// @brief RF001, VersionConflict: the stream is not at the expected version.
inline constexpr char version_conflict[] = "RF001";
/// @brief RF002, IdempotencyConflict: the idempotency key (or an event id) was used before.
inline constexpr char idempotency_conflict[] = "RF002";
/// @brief RF003, DocumentVersionConflict: the document is not at the expected version.
inline constexpr char document_version_conflict[] = "RF003";
/// @brief RF004, NotFound: a named thing (document, projection...) does not exist.
inline constexpr char not_found[] = "RF004";
/// @brief RF005, TenantNotFound: the tenant has no store.
inline constexpr char tenant_not_found[] = "RF005";
/// @brief RF006, LeaseLost: a projection lease or a cluster's hot lease was lost.
inline constexpr char lease_lost[] = "RF006";
/// @brief RF007, TenantNotEmpty: drop_tenant without force on a store that holds data.
inline constexpr char tenant_not_empty[] = "RF007";
/// @brief RF008, StreamArchived: an append to an archived stream with the redirect off.
inline constexpr char stream_archived[] = "RF008";

// ---- PostgreSQL's codes ---------------------------------------------------------------------
/// @brief 0A000: feature_not_supported.
inline constexpr char feature_not_supported[] = "0A000";
/// @brief 08000: connection_exception.
inline constexpr char connection_exception[] = "08000";
/// @brief 08001: sqlclient_unable_to_establish_sqlconnection.
inline constexpr char sqlclient_unable_to_establish_sqlconnection[] = "08001";
/// @brief 08003: connection_does_not_exist.
inline constexpr char connection_does_not_exist[] = "08003";
/// @brief 08006: connection_failure.
inline constexpr char connection_failure[] = "08006";
/// @brief 22004: null_value_not_allowed.
inline constexpr char null_value_not_allowed[] = "22004";
/// @brief 22023: invalid_parameter_value.
inline constexpr char invalid_parameter_value[] = "22023";
/// @brief 22P02: invalid_text_representation.
inline constexpr char invalid_text_representation[] = "22P02";
/// @brief 25000: invalid_transaction_state.
inline constexpr char invalid_transaction_state[] = "25000";
/// @brief 25P02: in_failed_sql_transaction.
inline constexpr char in_failed_sql_transaction[] = "25P02";
/// @brief 42501: insufficient_privilege (SqlError): the role lacks a grant the call needs
/// (docs/security.md).
inline constexpr char insufficient_privilege[] = "42501";
/// @brief 42601: syntax_error.
inline constexpr char syntax_error[] = "42601";
/// @brief 42602: invalid_name.
inline constexpr char invalid_name[] = "42602";
/// @brief 42622: name_too_long.
inline constexpr char name_too_long[] = "42622";
/// @brief 42703: undefined_column.
inline constexpr char undefined_column[] = "42703";
/// @brief 42704: undefined_object.
inline constexpr char undefined_object[] = "42704";
/// @brief 42710: duplicate_object (SqlError): e.g. a subscription that exists already.
inline constexpr char duplicate_object[] = "42710";
/// @brief 42725: ambiguous_function.
inline constexpr char ambiguous_function[] = "42725";
/// @brief 42804: datatype_mismatch.
inline constexpr char datatype_mismatch[] = "42804";
/// @brief 42846: cannot_coerce.
inline constexpr char cannot_coerce[] = "42846";
/// @brief 42883: undefined_function.
inline constexpr char undefined_function[] = "42883";
/// @brief 42P01: undefined_table.
inline constexpr char undefined_table[] = "42P01";
/// @brief 42P02: undefined_parameter.
inline constexpr char undefined_parameter[] = "42P02";
/// @brief 42P18: indeterminate_datatype.
inline constexpr char indeterminate_datatype[] = "42P18";
/// @brief 53300: too_many_connections.
inline constexpr char too_many_connections[] = "53300";
/// @brief 57P01: admin_shutdown.
inline constexpr char admin_shutdown[] = "57P01";
/// @brief 57P02: crash_shutdown.
inline constexpr char crash_shutdown[] = "57P02";
/// @brief 57P03: cannot_connect_now.
inline constexpr char cannot_connect_now[] = "57P03";
/// @brief 58000: system_error.
inline constexpr char system_error[] = "58000";
/// @brief 58P01: undefined_file.
inline constexpr char undefined_file[] = "58P01";
/// @brief XX000: internal_error (also: a C++ handler threw something that is not an Error).
inline constexpr char internal_error[] = "XX000";

}  // namespace rillflow::sqlstate
