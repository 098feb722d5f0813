// The PostgreSQL v3 wire encoder: appends whole messages to a byte string, no sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/pg/decoder.hpp"

namespace apono::proxy::pg {

/// Appends a big-endian int32.
void append_i32(std::string& out, std::int32_t v);
/// StartupMessage v3.0 with `params` in order (user, database, ...). Names must be non-empty
/// and no string may hold a NUL, or the packet will not decode; neither is checked here.
void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params);
/// SSLRequest.
void append_ssl_request(std::string& out);
/// CancelRequest for backend `pid` with secret `key`.
void append_cancel_request(std::string& out, std::int32_t pid, std::int32_t key);
/// AuthenticationOk.
void append_auth_ok(std::string& out);
/// AuthenticationCleartextPassword (how the proxy asks a TCP client for the local password).
void append_auth_cleartext_request(std::string& out);
/// PasswordMessage carrying `password` (cleartext or `md5...`).
void append_password(std::string& out, std::string_view password);
/// SASLInitialResponse: mechanism name and the client-first message.
void append_sasl_initial(std::string& out, std::string_view mechanism, std::string_view data);
/// SASLResponse: the client-final message.
void append_sasl_response(std::string& out, std::string_view data);
/// ErrorResponse with `fields` (S, V, C, M, D, H ... in the given order).
void append_error(std::string& out, const error_fields& fields);
/// NoticeResponse with `fields`.
void append_notice(std::string& out, const error_fields& fields);
/// ErrorResponse or NoticeResponse fields for a message of `severity` (FATAL, ERROR,
/// NOTICE, WARNING) with SQLSTATE `code`, `message`, and optional detail and hint.
[[nodiscard]] error_fields make_fields(std::string_view severity, std::string_view code,
                                       std::string_view message, std::string_view detail = {},
                                       std::string_view hint = {});
/// NegotiateProtocolVersion: the newest minor version of protocol 3 spoken, and the
/// `_pq_.` options not recognised.
void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unrecognized);
/// An error as PostgreSQL sends it to a client that asked for protocol 1.x or 2.x: 'E',
/// then "SEVERITY:  message\n" and a NUL, without a length word.
void append_error_v2(std::string& out, std::string_view severity, std::string_view message);
/// BackendKeyData.
void append_backend_key(std::string& out, backend_key k);
/// ParameterStatus.
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
/// ReadyForQuery with transaction status `status` ('I', 'T' or 'E').
void append_ready_for_query(std::string& out, char status);

}  // namespace apono::proxy::pg
