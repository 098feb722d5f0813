// One proxied client connection: the local startup (answered as PostgreSQL 15 answers it;
// TLS for TCP clients that ask, the one-time password on TCP, the database checked against
// the grant), the upstream login with the short-lived credentials, then bytes both ways until
// either side closes or access ends.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proxy/grant_watch.hpp"
#include "proxy/pg/decoder.hpp"
#include "proxy/pg/frame_tracker.hpp"
#include "proxy/relay_loop.hpp"
#include "proxy/upstream.hpp"

namespace apono::proxy {

class session;

/// Bytes read from one side before the relay starts, and how far decoding got.
struct phase_buffer {
  std::vector<std::uint8_t> data;  ///< the buffer (also the relay's read buffer later)
  std::size_t have = 0;            ///< bytes read into it
  std::size_t used = 0;            ///< of which decoded
  /// The read but undecoded bytes.
  [[nodiscard]] pg::bytes pending() const { return {data.data() + used, have - used}; }
  /// Moves the undecoded bytes to the front and returns the free space after them; empty
  /// when the buffer is full (the caller then has a message too big to accept).
  net::mutable_buffer space();
};

/// Counters a proxy keeps; read from any thread.
struct proxy_counters {
  std::atomic<std::uint64_t> accepted{0};  ///< client connections accepted
  std::atomic<std::uint64_t> relayed{0};   ///< logged in upstream and relayed
  std::atomic<std::uint64_t> refused{0};   ///< ended before relaying (bad input, password...)
  std::atomic<std::uint64_t> cut{0};       ///< ended by the proxy because access ended
  std::atomic<std::uint64_t> active{0};    ///< open right now
};

/// What every session of one proxy shares. Lives on the proxy's single I/O thread: only
/// that thread touches the maps.
struct proxy_context {
  upstream_endpoint upstream;              ///< the server and the logins
  std::shared_ptr<net::ssl::context> tls;  ///< client TLS context for the server
  /// Server TLS context for TCP clients that send SSLRequest; null: they are answered 'N'.
  std::shared_ptr<net::ssl::context> client_tls;
  std::string tcp_password;                     ///< what TCP clients must give
  grant_watch* watch = nullptr;                 ///< the grant
  std::function<void(const std::string&)> log;  ///< one line per notable event; may be empty
  /// Local cancel key (pid << 32 | local secret) -> the server's key for that backend.
  std::unordered_map<std::uint64_t, pg::backend_key> cancel_keys;
  std::unordered_set<std::shared_ptr<session>> sessions;  ///< open sessions
  /// Relays plain sessions once they are logged in; null: every session relays on Asio.
  relay_loop* relay = nullptr;
  proxy_counters counters;  ///< statistics
};

/// A client connection, from accept to close.
class session : public std::enable_shared_from_this<session> {
 public:
  /// A session for `client`; `tcp` means the one-time password is required.
  session(proxy_context& ctx, net::generic::stream_protocol::socket client, bool tcp);
  /// Runs the session to its end; never throws.
  net::awaitable<void> run();
  /// Queues `bytes` (whole messages) for the client at the next server message boundary.
  void notify(const std::string& bytes);
  /// Ends the session because access ended: `fatal` (an ErrorResponse) reaches the client
  /// at a message boundary when one comes within a moment, then the client side closes; the
  /// server side closes when that moment is over.
  void cut(const std::string& fatal);
  /// Closes both sides at once (proxy shutdown).
  void close_all();

 private:
  net::awaitable<bool> startup();
  net::awaitable<bool> check_password();
  net::awaitable<bool> login_upstream(const upstream_login& login);
  // After access ends, how long the relay may wait for a message boundary for the FATAL.
  static constexpr std::chrono::milliseconds cut_grace{500};

  net::awaitable<void> relay();
  net::awaitable<void> relay_plain();
  void relay_ended(relay_end e);
  template <class Client, class Stream>
  net::awaitable<void> client_to_server(Client& client, Stream& up);
  template <class Client, class Stream>
  net::awaitable<void> server_to_client(Client& client, Stream& up);
  net::awaitable<bool> negotiate_tls(bool& ssl_done, bool& gss_done);
  net::awaitable<std::tuple<boost::system::error_code, std::size_t>> client_read_some(
      net::mutable_buffer b);
  net::awaitable<std::tuple<boost::system::error_code, std::size_t>> client_write(
      net::const_buffer b);
  net::awaitable<void> answer_and_close(const std::string& bytes, const std::string& why);
  net::awaitable<void> side_write();
  void close_client();
  net::awaitable<void> refuse(const std::string& severity, const std::string& code,
                              const std::string& message);
  net::awaitable<void> cancel_backend(std::int32_t pid, std::int32_t key);
  net::awaitable<pg::decode_status> read_client_message(pg::message& m);
  net::awaitable<pg::decode_status> read_server_message(pg::message& m);

  proxy_context& ctx_;
  net::generic::stream_protocol::socket client_;
  // Made only when a TCP client asks for TLS; plain clients never pay for an SSL object.
  std::optional<net::ssl::stream<net::generic::stream_protocol::socket&>> tls_client_;
  bool tcp_;
  upstream_stream up_;
  net::steady_timer deadline_;   // bounds the startup phase, then the final FATAL
  net::steady_timer side_done_;  // wakes the relay when an out-of-band write finished
  net::steady_timer linger_;     // holds the server side open after a cut; close_all ends it
  net::steady_timer relay_end_;  // wakes run() when the relay loop gave the descriptors back
  pg::frame_tracker tracker_;    // boundaries of what the client has been sent
  phase_buffer cbuf_, sbuf_;     // from the client and from the server
  std::vector<std::pair<std::string, std::string>> client_params_;
  std::string database_;
  std::string inject_;           // messages waiting for a boundary
  std::uint64_t cancel_id_ = 0;  // our entry in ctx_.cancel_keys, 0 when none
  bool relaying_ = false;
  bool s2c_writing_ = false;
  bool side_writing_ = false;
  bool ending_ = false;
  bool closed_ = false;
  bool closed_all_ = false;  // close_all ran: nothing is left to wait for
  // A plain session's descriptors belong to the relay loop from the handoff until its end
  // comes back; then they are here, no longer in client_ and up_.
  bool handed_off_ = false;
  bool relay_over_ = false;
  std::uint64_t relay_id_ = 0;
  owned_fd client_fd_, server_fd_;
  net::steady_timer::time_point cut_at_{};  // when access ended for this session
};

}  // namespace apono::proxy
