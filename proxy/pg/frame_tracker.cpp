// Message-boundary tracking for relayed streams. Only the 5-byte header of the current
// message is ever copied; bodies are skipped by counting, so a 1 GB DataRow costs nothing.
#include "proxy/pg/frame_tracker.hpp"

#include <algorithm>
#include <cstring>

#include "proxy/pg/decoder.hpp"

namespace apono::proxy::pg {

std::size_t frame_tracker::feed(std::span<const std::uint8_t> chunk) noexcept {
  if (broken_) return npos;
  std::size_t last = npos;
  std::size_t i = 0;
  while (i < chunk.size()) {
    if (remaining_ > 0) {
      const auto take =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, chunk.size() - i));
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) last = i;
      continue;
    }
    const std::size_t take = std::min(sizeof header_ - header_have_, chunk.size() - i);
    std::memcpy(header_ + header_have_, chunk.data() + i, take);
    header_have_ += take;
    i += take;
    if (header_have_ < sizeof header_) break;
    const std::int32_t length = read_i32(header_ + 1);
    if (length < 4) {
      // Where the next message starts is unknowable from here on; the boundary found
      // before it in this chunk is still real.
      broken_ = true;
      return last;
    }
    header_have_ = 0;
    remaining_ = static_cast<std::uint64_t>(length) - 4;
    if (remaining_ == 0) last = i;
  }
  return last;
}

}  // namespace apono::proxy::pg
