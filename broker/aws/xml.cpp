// Element lookup by scanning for tags; see xml.hpp for what is deliberately left out.
#include "broker/aws/xml.hpp"

#include <cstdint>

#include "broker/html.hpp"

namespace apono::broker::aws {
namespace {

bool ends_name(char c) {
  return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<std::uint32_t> parse_code_point(std::string_view ref) {
  // `ref` is what follows "&#": digits, or x and hex digits.
  const bool is_hex = !ref.empty() && (ref.front() == 'x' || ref.front() == 'X');
  if (is_hex) ref.remove_prefix(1);
  if (ref.empty() || ref.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : ref) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (is_hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (is_hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    v = v * (is_hex ? 16 : 10) + static_cast<std::uint32_t>(d);
  }
  // XML's Char production: no NUL, no surrogates, nothing past U+10FFFF.
  if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string_view> xml_element(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag);
  for (std::size_t pos = xml.find(open); pos != std::string_view::npos;
       pos = xml.find(open, pos + 1)) {
    const std::size_t after = pos + open.size();
    if (after >= xml.size() || !ends_name(xml[after])) continue;
    const std::size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return std::string_view{};
    const std::size_t start = gt + 1;
    // Elements of one name do not nest in these responses, so the next close tag is ours.
    for (std::size_t end = xml.find(close, start); end != std::string_view::npos;
         end = xml.find(close, end + 1)) {
      const std::size_t tail = end + close.size();
      if (tail < xml.size() && (xml[tail] == '>' || xml[tail] == ' ' || xml[tail] == '\t' ||
                                xml[tail] == '\r' || xml[tail] == '\n'))
        return xml.substr(start, end - start);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const std::size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) return std::nullopt;
    const auto ref = text.substr(i + 1, semi - i - 1);
    if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "amp") {
      out += '&';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (!ref.empty() && ref.front() == '#') {
      const auto cp = parse_code_point(ref.substr(1));
      if (!cp) return std::nullopt;
      append_utf8(out, *cp);
    } else {
      return std::nullopt;
    }
    i = semi;
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  const auto element = xml_element(xml, tag);
  if (!element) return std::nullopt;
  return xml_unescape(*element);
}

std::string xml_escape(std::string_view text) {
  return broker::html_escape(text);
}

}  // namespace apono::broker::aws
