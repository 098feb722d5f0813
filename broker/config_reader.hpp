// What every section of aponod.yaml is read with: strict typed getters over yaml-cpp nodes that
// fail with one line, `FILE:LINE: context: message`, as config_error. The loader (config.cpp)
// and the sections kept beside their code (notify/notify_config.cpp) share it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apono::broker {

/// A string read from the file, with where it was for messages about it later.
struct located {
  std::string value;  ///< the scalar
  YAML::Mark mark;    ///< where it was
};

/// True when `n` is present and not null.
[[nodiscard]] bool given(const YAML::Node& n);

/// `text` with control characters written as `\xNN`: a YAML scalar may hold any (a CR, an
/// escape sequence), and quoted in a message it must not split the one-line `FILE:LINE: message`
/// or forge a line in the log of a SIGHUP reload.
[[nodiscard]] std::string one_line(std::string_view text);

/// Typed, strict reads of one file's nodes; every failure throws config_error.
class config_reader {
 public:
  /// Messages name `file`.
  explicit config_reader(std::string file) : file_(std::move(file)) {}

  /// Throws config_error `FILE:LINE: context: message` for the line of `mark`.
  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view context,
                         std::string_view message) const;
  /// The same at node `at`.
  [[noreturn]] void fail(const YAML::Node& at, std::string_view context,
                         std::string_view message) const;
  /// Every key of `map` must be a string, appear once and, unless `any_name`, be in `allowed`.
  void check_keys(const YAML::Node& map, std::string_view context,
                  std::initializer_list<std::string_view> allowed, bool any_name = false) const;
  /// `n` must be a mapping.
  void expect_map(const YAML::Node& n, std::string_view context) const;
  /// Calls `f(item, index)` for each element of an optional list section.
  template <class F>
  void for_each_item(const YAML::Node& list, std::string_view context, F f) const {
    if (!given(list)) return;
    if (!list.IsSequence()) fail(list, context, "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) f(list[i], i);
  }
  /// `n` as a string (it must be a scalar).
  [[nodiscard]] std::string scalar(const YAML::Node& n, std::string_view context,
                                   std::string_view key) const;
  /// `map[key]` as a string, if given.
  [[nodiscard]] std::optional<std::string> optional_string(const YAML::Node& map,
                                                           std::string_view context,
                                                           const std::string& key) const;
  /// `map[key]` as a non-empty string; missing or empty fails.
  [[nodiscard]] located required_string(const YAML::Node& map, std::string_view context,
                                        const std::string& key) const;
  /// `map[key]` as true or false, if given.
  [[nodiscard]] std::optional<bool> optional_bool(const YAML::Node& map, std::string_view context,
                                                  const std::string& key) const;
  /// `map[key]` as an integer in lo..hi, if given.
  [[nodiscard]] std::optional<int> optional_int(const YAML::Node& map, std::string_view context,
                                                const std::string& key, int lo, int hi) const;
  /// A list of non-empty strings; `single_ok` also takes one bare string.
  [[nodiscard]] std::vector<located> string_list(const YAML::Node& n, std::string_view context,
                                                 std::string_view key,
                                                 bool single_ok = false) const;
  /// `n` as a duration (common::parse_duration: 8h, 45m, 1h30m, 90s, 0.75 for hours).
  [[nodiscard]] std::chrono::seconds duration(const YAML::Node& n, std::string_view ctx,
                                              const std::string& key) const;

 private:
  std::string file_;
};

}  // namespace apono::broker
