// A session's relay phase: the plain sessions' handoff to the relay thread and back, the Asio
// relay that TLS sessions keep, and the notices and the cut, which wait for a boundary of the
// server's messages in either relay.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "proxy/session.hpp"

namespace apono::proxy {

namespace {

using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

net::awaitable<void> session::relay() {
  if (ctx_.relay && !tls_client_ && !up_.tls()) {
    co_await relay_plain();
    co_return;
  }
  // The hot path talks to the socket or the TLS stream directly, not through
  // upstream_stream's wrappers, which would cost a coroutine frame per read and write.
  if (tls_client_ && up_.tls()) {
    auto& c = *tls_client_;
    auto& u = up_.tls_stream();
    co_await (client_to_server(c, u) || server_to_client(c, u));
  } else if (tls_client_) {
    auto& c = *tls_client_;
    auto& u = up_.socket();
    co_await (client_to_server(c, u) || server_to_client(c, u));
  } else if (up_.tls()) {
    auto& u = up_.tls_stream();
    co_await (client_to_server(client_, u) || server_to_client(client_, u));
  } else {
    auto& u = up_.socket();
    co_await (client_to_server(client_, u) || server_to_client(client_, u));
  }
}

// Hands both descriptors to the relay loop and waits for them to come back. Nothing here
// suspends between the release and the handoff, so no notice or cut can fall in between.
net::awaitable<void> session::relay_plain() {
  boost::system::error_code cec, sec;
  owned_fd c(client_.release(cec));
  owned_fd s(up_.socket().release(sec));
  if (cec || sec) {
    client_fd_ = std::move(c);
    server_fd_ = std::move(s);
    co_return;
  }
  handed_off_ = true;
  relay_id_ = ctx_.relay->add(
      std::move(c), std::move(s), tracker_,
      [self = shared_from_this()](relay_end e) { self->relay_ended(std::move(e)); });
  while (!relay_over_) {
    relay_end_.expires_at(net::steady_timer::time_point::max());
    co_await relay_end_.async_wait(use_tuple);
  }
}

void session::relay_ended(relay_end e) {
  relay_over_ = true;
  client_fd_ = std::move(e.client);
  server_fd_ = std::move(e.server);
  if (e.fatal_sent) close_client();  // run() closes the server side after the grace
  if (closed_all_) close_all();
  relay_end_.cancel();
}

template <class Client, class Stream>
net::awaitable<void> session::client_to_server(Client& client, Stream& up) {
  for (;;) {
    auto [ec, n] = co_await client.async_read_some(net::buffer(cbuf_.data), use_tuple);
    if (ec) co_return;
    // After the end nothing more reaches the server, but the relay goes on until the FATAL
    // is out: returning here would close the session before the client was told why.
    if (ending_) continue;
    auto [wec, w] = co_await net::async_write(up, net::buffer(cbuf_.data.data(), n), use_tuple);
    if (wec) co_return;
  }
}

template <class Client, class Stream>
net::awaitable<void> session::server_to_client(Client& client, Stream& up) {
  for (;;) {
    auto [ec, n] = co_await up.async_read_some(net::buffer(sbuf_.data), use_tuple);
    if (ec) break;
    std::size_t boundary = tracker_.feed({sbuf_.data.data(), n});
    while (side_writing_) {
      side_done_.expires_at(net::steady_timer::time_point::max());
      co_await side_done_.async_wait(use_tuple);
    }
    if (closed_) co_return;
    s2c_writing_ = true;
    boost::system::error_code wec;
    if (!inject_.empty() && boundary != pg::frame_tracker::npos) {
      std::string pending = std::move(inject_);
      inject_.clear();
      // After the end, nothing of the server's past the boundary reaches the client.
      std::size_t tail = ending_ ? 0 : n - boundary;
      std::array<net::const_buffer, 3> parts{net::buffer(sbuf_.data.data(), boundary),
                                             net::buffer(pending),
                                             net::buffer(sbuf_.data.data() + boundary, tail)};
      std::tie(wec, std::ignore) = co_await net::async_write(client, parts, use_tuple);
      if (ending_) {
        s2c_writing_ = false;
        close_client();  // the FATAL is out; run() closes the server side later
        co_return;
      }
    } else {
      std::tie(wec, std::ignore) =
          co_await net::async_write(client, net::buffer(sbuf_.data.data(), n), use_tuple);
    }
    s2c_writing_ = false;
    if (wec) co_return;
    if (ending_ && tracker_.at_boundary() && !inject_.empty()) break;
  }
  // The server is gone, or access ended while the relay was busy: the FATAL goes out now
  // if the client is between messages; mid-message it would only corrupt the stream.
  if (ending_ && !inject_.empty() && tracker_.at_boundary() && !closed_) {
    std::string pending = std::move(inject_);
    inject_.clear();
    co_await net::async_write(client, net::buffer(pending), use_tuple);
    close_client();
  }
}

net::awaitable<void> session::side_write() {
  auto self = shared_from_this();
  side_writing_ = true;
  // Loops because another notice or the FATAL may be queued while one is being written.
  while (!inject_.empty() && !closed_) {
    std::string pending = std::move(inject_);
    inject_.clear();
    auto [ec, n] = co_await client_write(net::buffer(pending));
    if (ec) break;
  }
  side_writing_ = false;
  side_done_.cancel();
  // Only the client side: the relay then stops, and run() closes the server side later.
  if (ending_) close_client();
}

void session::notify(const std::string& bytes) {
  if (closed_ || ending_ || !relaying_) return;
  if (handed_off_) {
    if (!relay_over_) ctx_.relay->inject(relay_id_, bytes, false);
    return;
  }
  inject_ += bytes;
  if (!s2c_writing_ && !side_writing_ && tracker_.at_boundary())
    net::co_spawn(client_.get_executor(), side_write(), net::detached);
}

void session::cut(const std::string& fatal) {
  if (closed_ || ending_) return;
  ending_ = true;
  cut_at_ = net::steady_timer::clock_type::now();
  ++ctx_.counters.cut;
  if (!relaying_) {
    close_all();
    return;
  }
  if (handed_off_) {
    if (!relay_over_) ctx_.relay->inject(relay_id_, fatal, true);
  } else {
    inject_ += fatal;
    if (!s2c_writing_ && !side_writing_ && tracker_.at_boundary())
      net::co_spawn(client_.get_executor(), side_write(), net::detached);
  }
  // Whatever happens to the boundary, both sides are closed shortly.
  deadline_.expires_after(cut_grace);
  deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close_all();
  });
}

}  // namespace apono::proxy
