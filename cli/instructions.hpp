// How access details are shown to people: the instructions block that `apono access use`,
// `apono access-details` and the interactive flow print, and the time formats they share.
#pragma once

#include <boost/json/value.hpp>

#include <functional>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace apono::cli {

/// The docs' closing advice, word for word: the output above it holds a live password.
inline constexpr const char* secrets_advice =
    "Close this terminal once you have copied the details: they are secrets.";

/// The labelled fields of a unit, in display order: label, JSON key.
inline constexpr std::pair<const char*, const char*> unit_fields[] = {
    {"Host", "host"},
    {"Port", "port"},
    {"Database", "database"},
    {"Username", "username"},
    {"Password", "password"},
    {"SSL mode", "sslmode"},
    {"Principal", "principal"},
    {"Role", "role_arn"},
    {"ClusterRole", "cluster_role"},
    {"Region", "region"},
    {"API server", "server"},
    {"Namespace", "namespace"},
    {"Identity", "identity"},
    {"Access key", "access_key_id"},
};

/// `rfc3339` in local time with strftime `fmt`; the input itself when it does not parse.
[[nodiscard]] std::string local_time(const std::string& rfc3339, const char* fmt);
/// `in 9m12s`, or `ended` once the instant has passed.
[[nodiscard]] std::string time_left(const std::string& rfc3339);
/// `2026-11-22 16:00:00 UTC (in 29m12s)`.
[[nodiscard]] std::string valid_until(const std::string& ends_at);
/// The ready-to-paste psql commands for a PostgreSQL unit, every value shell-quoted.
[[nodiscard]] std::vector<std::string> psql_commands(const boost::json::value& unit);
/// `AR-00012: appdb (read_only) on pg-local`.
[[nodiscard]] std::string unit_title(const boost::json::value& details,
                                     const boost::json::value& unit);
/// Prints how to connect to one unit that is neither PostgreSQL nor self-explanatory (SSH).
using unit_printer = std::function<void(std::ostream& out, const boost::json::value& unit)>;
/// The instructions block for access details, ending with secrets_advice; `more` adds to each
/// unit's block (may be empty).
void print_instructions(std::ostream& out, const boost::json::value& details,
                        const unit_printer& more = {});

}  // namespace apono::cli
