// Byte-level helpers the wire codec tests share: strings as decoder input, big-endian
// lengths, and "this is exactly one startup packet".
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "proxy/pg/decoder.hpp"

namespace apono::test {

/// The bytes of `s`, as the decoder takes them.
inline proxy::pg::bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// `v` as a big-endian int32, the protocol's length and code encoding.
inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// Decodes the one startup packet `wire` must consist of.
inline proxy::pg::startup_packet only_startup(const std::string& wire) {
  proxy::pg::startup_packet p;
  std::size_t used = 0;
  REQUIRE(proxy::pg::decode_startup(as_bytes(wire), p, used) == proxy::pg::decode_status::ready);
  REQUIRE(used == wire.size());
  return p;
}

}  // namespace apono::test
