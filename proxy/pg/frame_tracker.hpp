// Follows message boundaries in a relayed PostgreSQL stream without buffering it, so the
// proxy can insert its own message (a deadline notice, the final FATAL) between two of the
// server's messages while passing every byte through untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace apono::proxy::pg {

/// Counts through typed messages (1 type byte, 4-byte length, body) fed in any pieces.
class frame_tracker {
 public:
  /// No boundary inside the fed bytes.
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Feeds the next bytes of the stream. Returns the offset within `chunk` just after the
  /// last message that ends inside it (a place where another message may be inserted),
  /// `chunk.size()` when the chunk ends exactly on a boundary, or npos when no message ends
  /// inside it (always for an empty chunk). A length under 4 makes the tracker broken() for
  /// good: that feed still returns the last boundary before the bad header, later ones npos.
  std::size_t feed(std::span<const std::uint8_t> chunk) noexcept;
  /// True when everything fed so far ends exactly on a message boundary.
  [[nodiscard]] bool at_boundary() const noexcept { return header_have_ == 0 && remaining_ == 0; }
  /// True once an impossible length was seen; the stream is no longer followed.
  [[nodiscard]] bool broken() const noexcept { return broken_; }

 private:
  std::uint8_t header_[5] = {};
  std::size_t header_have_ = 0;  // header bytes of the current message seen so far
  std::uint64_t remaining_ = 0;  // body bytes of the current message still to come
  bool broken_ = false;
};

}  // namespace apono::proxy::pg
