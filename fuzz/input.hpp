// Reads typed fields off the front of a fuzz input. Every read succeeds: past the end it yields
// zeros and empty strings, so any byte string is a valid input and mutations stay meaningful.
// Strings are a length byte and that many bytes; make_*_corpus.py writes the same layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace apono::fuzz {

/// A cursor over the input bytes.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  /// One byte, or 0 at the end.
  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  /// Eight bytes, big-endian, missing ones as 0.
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return v;
  }
  /// Four bytes, big-endian, as a signed number.
  std::int32_t i32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return static_cast<std::int32_t>(v);
  }
  /// A length byte and up to that many bytes (fewer at the end).
  std::string str() { return bytes(u8()); }
  /// Up to `n` bytes.
  std::string bytes(std::size_t n) {
    if (n > size_ - pos_) n = size_ - pos_;
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  /// Whatever is left.
  std::string rest() { return bytes(size_ - pos_); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// True when `s` holds a byte below 0x20 or DEL: what may not appear in a one-line message.
inline bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace apono::fuzz
