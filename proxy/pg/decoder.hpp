// The PostgreSQL v3 wire decoder: pure functions over bytes, no sockets. Callers hand it
// whatever they have read so far; it says whether a whole message is there, and parses the
// bodies the proxy looks into (startup packets, authentication requests, errors, keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apono::proxy::pg {

/// Bytes as the decoder sees them.
using bytes = std::span<const std::uint8_t>;

inline constexpr std::int32_t protocol_3_0 = 196608;           ///< StartupMessage version 3.0
inline constexpr std::int32_t ssl_request_code = 80877103;     ///< SSLRequest
inline constexpr std::int32_t gssenc_request_code = 80877104;  ///< GSSENCRequest
inline constexpr std::int32_t cancel_request_code = 80877102;  ///< CancelRequest
/// PostgreSQL's own limit for a startup packet after its length word
/// (MAX_STARTUP_PACKET_LENGTH): the whole packet is at most 10,004 bytes.
inline constexpr std::size_t max_startup_length = 10000;
/// Authentication-phase messages are small; anything bigger is a broken or hostile peer.
inline constexpr std::size_t max_auth_message_length = 64 * 1024;

/// What one decode call found.
enum class decode_status {
  ready,      ///< a whole message is at the front; `used` says how many bytes it spans
  need_more,  ///< the front is a valid prefix of a message; read more and call again
  bad,        ///< the bytes can never become a valid message; end the connection
};

/// An untyped startup-phase packet from a client.
struct startup_packet {
  /// Which packet it is.
  enum class kind { startup, ssl_request, gssenc_request, cancel_request };
  kind type = kind::startup;
  std::int32_t protocol = 0;  ///< the version or request code as sent
  /// StartupMessage parameters in order (user, database, application_name, options...).
  std::vector<std::pair<std::string, std::string>> params;
  std::int32_t cancel_pid = 0;  ///< CancelRequest: the backend pid
  std::int32_t cancel_key = 0;  ///< CancelRequest: the secret key
  /// StartupMessage of major version 3: the parameters ended with a terminator exactly at
  /// the last byte, as PostgreSQL checks it. When false, `params` holds those read before the
  /// layout broke (PostgreSQL acts on them before it complains). Other versions: false, and
  /// no parameters are read.
  bool layout_ok = false;
  /// The value of parameter `name` (the last, when given twice, as PostgreSQL takes it), or
  /// nullopt.
  [[nodiscard]] std::optional<std::string> param(std::string_view name) const;
};

/// A typed message whose whole body is in the caller's buffer; `body` views into it.
struct message {
  char type = 0;  ///< the type byte, e.g. 'R', 'E', 'p'
  bytes body;     ///< the body after the 4-byte length
};

/// Decodes the startup packet at the front of `in` (4-byte length, 4-byte code, rest), with
/// PostgreSQL 15's framing rules (ProcessStartupPacket): `bad` is exactly what PostgreSQL
/// closes on without a word, namely a length under 8 or over 4 + max_startup_length (as soon
/// as the length bytes show it) and a CancelRequest that is not 16 bytes. Every other packet
/// is `ready` once whole, whatever its version or layout: a wrong version or a broken
/// parameter list is answered with an error, so the caller decides (`protocol`,
/// `layout_ok`). SSLRequest and GSSENCRequest are recognised by their code at any length, as
/// PostgreSQL does. `out` and `used` are written only when `ready`.
[[nodiscard]] decode_status decode_startup(bytes in, startup_packet& out,
                                           std::size_t& used) noexcept;

/// Decodes the typed message at the front of `in` (1 type byte, 4-byte length, body).
/// A length under 4 or a message longer than `max_length` (type byte excluded) is `bad`, even
/// before all four length bytes are in; a length of exactly `max_length` is fine. `out` and
/// `used` are written only when `ready`.
[[nodiscard]] decode_status decode_message(bytes in, message& out, std::size_t& used,
                                           std::size_t max_length) noexcept;

/// An AuthenticationRequest ('R') from a server.
struct auth_request {
  std::int32_t code = 0;          ///< 0 ok, 3 cleartext, 5 md5, 10 SASL, 11 continue, 12 final
  std::uint8_t md5_salt[4] = {};  ///< code 5
  std::vector<std::string> mechanisms;  ///< code 10, e.g. SCRAM-SHA-256
  std::string data;                     ///< code 11 and 12: the SASL payload
};

/// Parses the body of an 'R' message; nullopt when it is malformed for its code.
[[nodiscard]] std::optional<auth_request> parse_auth_request(bytes body);

/// The fields of an ErrorResponse or NoticeResponse, in order ('S', 'V', 'C', 'M', ...).
using error_fields = std::vector<std::pair<char, std::string>>;

/// Parses the body of an 'E' or 'N' message; nullopt when a field is unterminated or the
/// final NUL is missing.
[[nodiscard]] std::optional<error_fields> parse_error_fields(bytes body);

/// The first field of type `code` in `f`, or "".
[[nodiscard]] std::string field(const error_fields& f, char code);

/// BackendKeyData ('K'): process id and secret key.
struct backend_key {
  std::int32_t pid = 0;  ///< backend process id
  std::int32_t key = 0;  ///< cancel secret
};

/// Parses the body of a 'K' message; nullopt unless it is exactly 8 bytes.
[[nodiscard]] std::optional<backend_key> parse_backend_key(bytes body);

/// Parses the body of a PasswordMessage ('p') as a NUL-terminated string; nullopt when the
/// NUL is missing or not last.
[[nodiscard]] std::optional<std::string> parse_password(bytes body);

/// Reads a big-endian int32.
[[nodiscard]] std::int32_t read_i32(const std::uint8_t* p) noexcept;

}  // namespace apono::proxy::pg
