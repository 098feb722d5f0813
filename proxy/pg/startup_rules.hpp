// What PostgreSQL 15 answers to a client's StartupMessage before any authentication
// (postmaster.c, ProcessStartupPacket): the version check, the parameter layout, the
// `replication` value, NegotiateProtocolVersion and the user name. Pure: the session sends
// what this decides, so a client meets the same answers through the proxy as without it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/pg/decoder.hpp"

namespace apono::proxy::pg {

/// The outcome of checking one StartupMessage.
struct startup_verdict {
  /// Bytes for the client: the error when `proceed` is false, else a NegotiateProtocolVersion
  /// or nothing.
  std::string reply;
  bool proceed = false;      ///< false: send `reply` and close, as PostgreSQL does
  bool replication = false;  ///< the client asked for a walsender (`replication` true/database)
};

/// Checks `p` (a StartupMessage, any version) in PostgreSQL 15's order: major version other
/// than 3 (0A000; protocol 1.x/2.x get the old-style message PostgreSQL still sends them), an
/// invalid `replication` value among the parameters read (22023), a broken layout (08P01),
/// then newer minor versions or `_pq_.` options (NegotiateProtocolVersion), then a missing or
/// empty user (28000).
[[nodiscard]] startup_verdict check_startup(const startup_packet& p);

/// PostgreSQL's parse_bool: true/false, yes/no, on/off, 1/0, any case, unique prefixes
/// ("t", "of"); nullopt for anything else, including "".
[[nodiscard]] std::optional<bool> parse_pg_bool(std::string_view value);

/// The FATAL PostgreSQL sends when bytes arrived with an SSLRequest (`ssl`) or GSSENCRequest
/// before its answer: they were not encrypted, and may have been injected.
[[nodiscard]] std::string unencrypted_data_error(bool ssl);

}  // namespace apono::proxy::pg
