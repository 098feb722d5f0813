// The frame tracker over one stream of many messages (a 1 MiB DataRow and empty bodies among
// them) fed whole, byte by byte, in random pieces and at every two- and three-way split: the
// offsets it returns must be exactly the message boundaries. Also impossible lengths.
#include "proxy/pg/frame_tracker.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/proxy/pg/wire.hpp"

namespace {

using apono::proxy::pg::frame_tracker;
using apono::test::be32;
using namespace std::string_literals;

/// A stream and the offsets just after each of its messages.
struct stream {
  std::string bytes;
  std::set<std::size_t> boundaries;

  void add(char type, const std::string& body) {
    bytes += type + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
    boundaries.insert(bytes.size());
  }
};

stream small_stream() {
  stream s;
  s.add('1', "");  // ParseComplete: no body
  s.add('T', "\0\1id\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"s);
  s.add('D', "\0\1\0\0\0\0011"s);
  s.add('2', "");
  s.add('C', "SELECT 1\0"s);
  s.add('S', "TimeZone\0UTC\0"s);
  // A body whose bytes look like headers, so a tracker that resynchronises on content fails.
  s.add('D', "D\0\0\0\4D\0\0\0\4"s);
  s.add('3', "");
  s.add('Z', "I");
  return s;
}

stream big_stream() {
  stream s = small_stream();
  std::string row(1 << 20, 'x');
  for (std::size_t i = 0; i < row.size(); i += 4099) row[i] = 'D';
  s.add('D', row);
  s.add('n', "");  // NoData
  s.add('N', "SNOTICE\0Mhi\0\0"s);
  for (int i = 0; i < 50; ++i) s.add(i % 2 == 0 ? 'D' : 's', std::string(i, 'y'));
  s.add('Z', "T");
  return s;
}

std::span<const std::uint8_t> span_of(const std::string& s, std::size_t from, std::size_t to) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()) + from, to - from};
}

/// What feed must return for the chunk [from, to): the offset of the last boundary in
/// (from, to], relative to `from`.
std::size_t expected_offset(const stream& s, std::size_t from, std::size_t to) {
  auto it = s.boundaries.upper_bound(to);
  if (it == s.boundaries.begin()) return frame_tracker::npos;
  --it;
  return *it > from ? *it - from : frame_tracker::npos;
}

/// Feeds `s` cut at `cuts` (increasing, inside the stream) and checks every return value.
void feed_with_cuts(const stream& s, const std::vector<std::size_t>& cuts) {
  frame_tracker t;
  std::size_t from = 0;
  auto feed_to = [&](std::size_t to) {
    const auto got = t.feed(span_of(s.bytes, from, to));
    REQUIRE(got == expected_offset(s, from, to));
    REQUIRE(t.at_boundary() == s.boundaries.contains(to));
    REQUIRE_FALSE(t.broken());
    from = to;
  };
  for (auto c : cuts) feed_to(c);
  feed_to(s.bytes.size());
  REQUIRE(t.at_boundary());
}

}  // namespace

TEST_CASE("frame_tracker: the whole stream at once ends on a boundary") {
  const auto s = big_stream();
  frame_tracker t;
  CHECK(t.at_boundary());
  CHECK(t.feed(span_of(s.bytes, 0, s.bytes.size())) == s.bytes.size());
  CHECK(t.at_boundary());
  CHECK_FALSE(t.broken());
}

TEST_CASE("frame_tracker: byte by byte, every boundary is reported") {
  const auto s = big_stream();
  frame_tracker t;
  std::size_t reported = 0;
  for (std::size_t i = 0; i < s.bytes.size(); ++i) {
    const auto got = t.feed(span_of(s.bytes, i, i + 1));
    const bool boundary = s.boundaries.contains(i + 1);
    if (got != (boundary ? 1 : frame_tracker::npos) || t.at_boundary() != boundary) {
      FAIL("wrong answer after byte " << i);
    }
    reported += boundary ? 1 : 0;
  }
  CHECK(reported == s.boundaries.size());
  CHECK(t.at_boundary());
}

TEST_CASE("frame_tracker: random pieces") {
  const auto s = big_stream();
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    // Small pieces inside headers, big ones across the 1 MiB row.
    const std::size_t max_piece = round % 3 == 0 ? 7 : round % 3 == 1 ? 300 : 200000;
    std::vector<std::size_t> cuts;
    std::size_t at = 0;
    while (true) {
      at += std::uniform_int_distribution<std::size_t>(1, max_piece)(rng);
      if (at >= s.bytes.size()) break;
      cuts.push_back(at);
    }
    feed_with_cuts(s, cuts);
  }
}

TEST_CASE("frame_tracker: every two- and three-piece split of a small stream") {
  const auto s = small_stream();
  const std::size_t n = s.bytes.size();
  for (std::size_t a = 1; a < n; ++a) {
    feed_with_cuts(s, {a});
    for (std::size_t b = a + 1; b < n; ++b) feed_with_cuts(s, {a, b});
  }
}

TEST_CASE("frame_tracker: an empty chunk reports nothing and changes nothing") {
  frame_tracker t;
  CHECK(t.feed({}) == frame_tracker::npos);
  CHECK(t.at_boundary());
  const std::string half = "Z\0\0"s;
  CHECK(t.feed(span_of(half, 0, half.size())) == frame_tracker::npos);
  CHECK(t.feed({}) == frame_tracker::npos);
  CHECK_FALSE(t.at_boundary());
}

TEST_CASE("frame_tracker: a length under 4 breaks it for good") {
  for (std::uint32_t bad : {0u, 1u, 3u, 0x80000000u, 0xffffffffu}) {
    INFO(bad);
    const std::string ok = "Z\0\0\0\5I"s;
    // Appended rather than added up: GCC 12 misreads `ok + "D" + ...` as out of bounds.
    std::string wire = ok;
    wire += 'D';
    wire += be32(bad);
    wire += ok;

    frame_tracker whole;
    // The boundary before the bad header is still real.
    CHECK(whole.feed(span_of(wire, 0, wire.size())) == ok.size());
    CHECK(whole.broken());
    CHECK_FALSE(whole.at_boundary());
    CHECK(whole.feed(span_of(ok, 0, ok.size())) == frame_tracker::npos);
    CHECK(whole.broken());

    frame_tracker split;
    CHECK(split.feed(span_of(wire, 0, ok.size() + 3)) == ok.size());
    CHECK_FALSE(split.broken());
    CHECK(split.feed(span_of(wire, ok.size() + 3, wire.size())) == frame_tracker::npos);
    CHECK(split.broken());
  }
  frame_tracker four;
  const std::string empty_body = "X\0\0\0\4"s;  // length exactly 4 is fine
  CHECK(four.feed(span_of(empty_body, 0, empty_body.size())) == empty_body.size());
  CHECK_FALSE(four.broken());
}
