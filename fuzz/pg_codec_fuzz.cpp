// libFuzzer target for the PostgreSQL wire codec. The first input byte picks a mode; the rest
// is the stream or body under test. Besides crashes and sanitizer reports, every mode checks
// an invariant and aborts when it fails: what decodes re-encodes to the same bytes, the frame
// tracker agrees with a walk of the same stream, and what the encoder writes decodes back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pg/decoder.hpp"
#include "proxy/pg/encoder.hpp"
#include "proxy/pg/frame_tracker.hpp"

namespace {

using namespace apono::proxy::pg;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "pg_codec_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool same(bytes a, bytes b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

/// Checks the promises every ready typed message makes, then re-encodes the bodies the encoder
/// can write and demands the exact same bytes back.
void check_typed(bytes in, const message& m, std::size_t used, std::size_t max_length) {
  check(used >= 5 && used <= in.size() && used - 1 <= max_length, "message: used out of range");
  check(m.body.data() == in.data() + 5 && m.body.size() == used - 5, "message: body misplaced");
  const bytes wire = in.first(used);
  std::string again;
  switch (m.type) {
    case 'R':
      if (auto r = parse_auth_request(m.body)) {
        if (r->code == 0) append_auth_ok(again);
        if (r->code == 3) append_auth_cleartext_request(again);
        if (r->code == 0 || r->code == 3) check(same(as_bytes(again), wire), "R re-encodes");
      }
      break;
    case 'E':
    case 'N':
      if (auto f = parse_error_fields(m.body)) {
        if (m.type == 'E')
          append_error(again, *f);
        else
          append_notice(again, *f);
        check(same(as_bytes(again), wire), "E/N re-encodes");
      }
      break;
    case 'K':
      if (auto k = parse_backend_key(m.body)) {
        append_backend_key(again, *k);
        check(same(as_bytes(again), wire), "K re-encodes");
      }
      break;
    case 'p':
      if (auto pw = parse_password(m.body)) {
        append_password(again, *pw);
        check(same(as_bytes(again), wire), "p re-encodes");
      }
      break;
    case 'Z':
      if (m.body.size() == 1) {
        append_ready_for_query(again, static_cast<char>(m.body[0]));
        check(same(as_bytes(again), wire), "Z re-encodes");
      }
      break;
    default:
      break;
  }
}

/// Decodes typed messages until the input runs out or goes bad.
void typed_stream(bytes in, std::size_t max_length) {
  while (!in.empty()) {
    message m;
    std::size_t used = 0;
    const auto st = decode_message(in, m, used, max_length);
    if (st != decode_status::ready) return;
    check_typed(in, m, used, max_length);
    in = in.subspan(used);
  }
}

/// A client's stream: a startup packet, then typed messages.
void client_stream(bytes in) {
  startup_packet p;
  std::size_t used = 0;
  if (decode_startup(in, p, used) != decode_status::ready) return;
  check(used >= 8 && used <= in.size() && used <= max_startup_length + 4, "startup: used");
  const bytes wire = in.first(used);
  std::string again;
  switch (p.type) {
    case startup_packet::kind::startup: {
      // Other versions, and layouts PostgreSQL refuses, are answered without re-encoding.
      if (!p.layout_ok) break;
      append_startup(again, p.params);
      if (p.protocol == protocol_3_0 && wire.back() == 0) {
        check(same(as_bytes(again), wire), "startup re-encodes");
      } else {
        startup_packet q;
        std::size_t u = 0;
        check(decode_startup(as_bytes(again), q, u) == decode_status::ready && q.params == p.params,
              "startup params re-encode");
      }
      break;
    }
    case startup_packet::kind::ssl_request:
      append_ssl_request(again);
      // PostgreSQL takes the code at any length and skips the rest.
      if (used == 8) check(same(as_bytes(again), wire), "SSLRequest re-encodes");
      break;
    case startup_packet::kind::cancel_request:
      append_cancel_request(again, p.cancel_pid, p.cancel_key);
      check(same(as_bytes(again), wire), "CancelRequest re-encodes");
      break;
    case startup_packet::kind::gssenc_request:
      break;
  }
  typed_stream(in.subspan(used), max_auth_message_length);
}

/// Feeds a stream to the frame tracker in pieces whose sizes come from the input, and checks
/// each answer against a plain walk over the same bytes.
void tracker(bytes in) {
  if (in.empty()) return;
  const std::size_t n_sizes = std::min<std::size_t>(in[0] % 16, in.size() - 1);
  const bytes sizes = in.subspan(1, n_sizes);
  const bytes stream = in.subspan(1 + n_sizes);

  // The reference: message ends, and where a header with a length under 4 completes.
  std::vector<std::size_t> ends;
  std::size_t broken_at = SIZE_MAX;
  for (std::uint64_t at = 0; at + 5 <= stream.size();) {
    const std::int32_t len = read_i32(stream.data() + at + 1);
    if (len < 4) {
      broken_at = at + 5;
      break;
    }
    at += 1 + static_cast<std::uint64_t>(len);
    if (at <= stream.size()) ends.push_back(at);
  }

  frame_tracker t;
  std::size_t from = 0;
  std::size_t piece = 0;
  while (from < stream.size()) {
    std::size_t len = sizes.empty() ? stream.size() : sizes[piece++ % sizes.size()];
    if (len == 0) {
      // A zero size stands for an empty read, which must change nothing.
      const bool was_at_boundary = t.at_boundary();
      check(t.feed({}) == frame_tracker::npos, "tracker: empty chunk");
      check(t.at_boundary() == was_at_boundary, "tracker: empty chunk moved");
      len = 1;
    }
    len = std::min(len, stream.size() - from);
    const std::size_t to = from + len;
    const auto got = t.feed(stream.subspan(from, len));

    std::size_t expect = frame_tracker::npos;
    if (from < broken_at) {
      for (auto e : ends)
        if (e > from && e <= to && e <= broken_at) expect = e - from;
    }
    check(got == expect, "tracker offset");
    check(t.broken() == (to >= broken_at), "tracker broken");
    const bool boundary = to < broken_at && std::find(ends.begin(), ends.end(), to) != ends.end();
    check(t.at_boundary() == boundary, "tracker at_boundary");
    from = to;
  }
}

/// Every parser on the same bytes, as if they were a body of each kind.
void bodies(bytes in) {
  if (auto r = parse_auth_request(in)) check(in.size() >= 4, "auth on a short body");
  if (auto f = parse_error_fields(in)) {
    std::string again;
    append_notice(again, *f);
    check(same(as_bytes(again).subspan(5), in), "fields re-encode");
    (void)field(*f, 'C');
  }
  check(parse_backend_key(in).has_value() == (in.size() == 8), "backend key size");
  if (auto pw = parse_password(in)) check(pw->size() + 1 == in.size(), "password size");
}

/// Builds messages from NUL-free strings in the input and decodes them back.
void encode_decode(bytes in) {
  std::vector<std::string> s;
  std::string cur;
  for (auto b : in) {
    if (b == 0) {
      s.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(b));
    }
  }
  s.push_back(cur);

  std::vector<std::pair<std::string, std::string>> params;
  error_fields fields;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    // An empty name would read as the terminator: the protocol cannot carry it.
    if (!s[i].empty()) params.emplace_back(s[i], s[i + 1]);
    if (!s[i].empty()) fields.emplace_back(s[i][0], s[i + 1]);
  }

  std::string wire;
  append_startup(wire, params);
  startup_packet p;
  std::size_t used = 0;
  const auto st = decode_startup(as_bytes(wire), p, used);
  if (wire.size() <= max_startup_length)
    check(st == decode_status::ready && used == wire.size() && p.params == params,
          "startup round trip");
  else
    check(st == decode_status::bad, "oversized startup is bad");

  wire.clear();
  append_error(wire, fields);
  append_password(wire, s[0]);
  append_parameter_status(wire, s[0], s.back());
  append_sasl_response(wire, std::string_view(reinterpret_cast<const char*>(in.data()), in.size()));
  bytes rest = as_bytes(wire);
  message m;
  check(decode_message(rest, m, used, SIZE_MAX) == decode_status::ready && m.type == 'E' &&
            parse_error_fields(m.body) == fields,
        "error round trip");
  rest = rest.subspan(used);
  check(decode_message(rest, m, used, SIZE_MAX) == decode_status::ready && m.type == 'p' &&
            parse_password(m.body) == s[0],
        "password round trip");
  rest = rest.subspan(used);
  check(decode_message(rest, m, used, SIZE_MAX) == decode_status::ready && m.type == 'S' &&
            m.body.size() == s[0].size() + s.back().size() + 2,
        "parameter status round trip");
  rest = rest.subspan(used);
  check(decode_message(rest, m, used, SIZE_MAX) == decode_status::ready && m.type == 'p' &&
            same(m.body, in) && used == rest.size(),
        "SASL response round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bytes in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      client_stream(in);
      break;
    case 1:
      typed_stream(in, data[0] >= 128 ? SIZE_MAX : max_auth_message_length);
      break;
    case 2:
      tracker(in);
      break;
    case 3:
      bodies(in);
      break;
    case 4:
      encode_decode(in);
      break;
  }
  return 0;
}
