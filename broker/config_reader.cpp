// The strict getters of config_reader.
#include "broker/config_reader.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "broker/config.hpp"
#include "common/duration.hpp"

namespace apono::broker {
namespace {

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

}  // namespace

bool given(const YAML::Node& n) {
  return n.IsDefined() && !n.IsNull();
}

std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
      continue;
    }
    constexpr std::string_view hex = "0123456789abcdef";
    out.append("\\x").append(1, hex[u >> 4]).append(1, hex[u & 0xf]);
  }
  return out;
}

void config_reader::fail(const YAML::Mark& mark, std::string_view context,
                         std::string_view message) const {
  // Only the empty document has no mark; line 1 is as good a place as any for it.
  int line = mark.is_null() ? 1 : mark.line + 1;
  std::string text = file_ + ":" + std::to_string(line) + ": ";
  if (!context.empty()) text.append(context).append(": ");
  text.append(message);
  throw config_error(one_line(text));
}

void config_reader::fail(const YAML::Node& at, std::string_view context,
                         std::string_view message) const {
  fail(at.Mark(), context, message);
}

void config_reader::check_keys(const YAML::Node& map, std::string_view context,
                               std::initializer_list<std::string_view> allowed,
                               bool any_name) const {
  std::set<std::string, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(key, context, "expected a string key");
    const std::string& k = key.Scalar();
    if (!any_name && std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      fail(key, context, "unknown key '" + k + "' (expected " + join(allowed) + ")");
    }
    if (!seen.insert(k).second) fail(key, context, "duplicate key '" + k + "'");
  }
}

void config_reader::expect_map(const YAML::Node& n, std::string_view context) const {
  if (!n.IsMap()) fail(n, context, "expected a mapping");
}

std::string config_reader::scalar(const YAML::Node& n, std::string_view context,
                                  std::string_view key) const {
  if (!n.IsScalar()) fail(n, context, std::string(key) + ": expected a string");
  return n.Scalar();
}

std::optional<std::string> config_reader::optional_string(const YAML::Node& map,
                                                          std::string_view context,
                                                          const std::string& key) const {
  const YAML::Node n = map[key];
  if (!given(n)) return std::nullopt;
  return scalar(n, context, key);
}

located config_reader::required_string(const YAML::Node& map, std::string_view context,
                                       const std::string& key) const {
  const YAML::Node n = map[key];
  if (!given(n)) fail(map, context, "'" + key + "' is required");
  auto value = scalar(n, context, key);
  if (value.empty()) fail(n, context, "'" + key + "' must not be empty");
  return {std::move(value), n.Mark()};
}

std::optional<bool> config_reader::optional_bool(const YAML::Node& map, std::string_view context,
                                                 const std::string& key) const {
  const YAML::Node n = map[key];
  if (!given(n)) return std::nullopt;
  bool value = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
    fail(n, context, key + ": expected true or false");
  }
  return value;
}

std::optional<int> config_reader::optional_int(const YAML::Node& map, std::string_view context,
                                               const std::string& key, int lo, int hi) const {
  const YAML::Node n = map[key];
  if (!given(n)) return std::nullopt;
  long long value = 0;
  const std::string* text = n.IsScalar() ? &n.Scalar() : nullptr;
  if (!text || text->empty() ||
      std::from_chars(text->data(), text->data() + text->size(), value).ptr !=
          text->data() + text->size()) {
    fail(n, context, key + ": expected an integer");
  }
  if (value < lo || value > hi) {
    fail(n, context,
         key + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return static_cast<int>(value);
}

std::vector<located> config_reader::string_list(const YAML::Node& n, std::string_view context,
                                                std::string_view key, bool single_ok) const {
  std::vector<located> out;
  if (!given(n)) return out;
  if (single_ok && n.IsScalar()) {
    out.push_back({n.Scalar(), n.Mark()});
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        fail(item, context, std::string(key) + ": expected a list of strings");
      }
      out.push_back({item.Scalar(), item.Mark()});
    }
  } else {
    fail(n, context, std::string(key) + ": expected a list of strings");
  }
  for (const auto& item : out) {
    if (item.value.empty()) fail(item.mark, context, std::string(key) + ": empty string");
  }
  return out;
}

std::chrono::seconds config_reader::duration(const YAML::Node& n, std::string_view ctx,
                                             const std::string& key) const {
  auto text = scalar(n, ctx, key);
  auto d = common::parse_duration(text);
  if (!d) {
    fail(n, ctx,
         key + ": cannot read '" + text +
             "' as a duration (e.g. 8h, 45m, 1h30m, 90s, or 0.75 for hours; at most 366d)");
  }
  return *d;
}

}  // namespace apono::broker
