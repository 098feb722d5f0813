// The AWS config editor reads the file the way the aws CLI does and edits it as text.
//
// What "the way the aws CLI does" means, from botocore/configloader.py and Python's
// configparser.RawConfigParser (strict, '#'/';' full-line comments, '=' or ':' delimiters,
// blank lines allowed inside values):
// - A section header is a stripped line `[` ... `]`, the name being everything between the first
//   `[` and the last `]`, unstripped: `[ profile x]` is the section " profile x".
// - A line indented deeper than the setting above it continues that setting's value, even after
//   blank lines, so an indented `[profile x]` there is not a header.
// - A repeated section or a repeated key in one section makes configparser (and so every aws
//   command) fail; so does any line before the first section or without a delimiter, and a
//   value starting on the next line (nested, `s3 =`) with a line that has no `=`.
// - A section is a profile when it is exactly `default`, or starts with `profile` and shlex-splits
//   into exactly two words, the second being the name: `[profile  x ]` and `[profile "x"]` are
//   profile x. Profiles go into a dict in file order, so with `[default]` and `[profile default]`
//   (or two spellings of one profile) the last section wins.
#include "cli/aws_config_file.hpp"

#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>

#include "cli/private_file.hpp"
#include "cli/text_lines.hpp"

namespace apono::cli {

namespace {

// Python's str.isspace for ASCII, which str.strip() and the regex \S use.
bool is_py_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view py_strip(std::string_view s) {
  while (!s.empty() && is_py_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_py_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == '\x7f';
}

bool is_blank_or_comment(const text_line& l) {
  auto v = py_strip(l.body);
  return v.empty() || v.front() == '#' || v.front() == ';';
}

/// A section as configparser sees it.
struct ini_section {
  std::string name;        ///< between `[` and the last `]`, unstripped
  std::size_t header = 0;  ///< index of the header line
  std::size_t end = 0;     ///< index of the first line after the body
  aws_settings options;    ///< lower-case keys; values joined as configparser joins them
  std::vector<std::vector<std::string>> pieces;  ///< each option's value lines while parsing
  std::vector<std::size_t> option_lines;         ///< each option's first line
};

[[noreturn]] void reject(std::size_t line, std::string_view why) {
  throw std::runtime_error("aws config: line " + std::to_string(line + 1) + " " + std::string(why) +
                           "; aws cannot read this file either, so apono will not edit it");
}

std::vector<ini_section> parse_ini(const std::vector<text_line>& lines) {
  std::vector<ini_section> sections;
  std::set<std::string> seen_sections;
  std::set<std::pair<std::string, std::string>> seen_options;
  bool in_option = false;
  std::size_t indent_level = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto body = lines[i].body;
    auto value = py_strip(body);
    bool comment = !value.empty() && (value.front() == '#' || value.front() == ';');
    if (value.empty() || comment) {
      if (!comment && in_option) sections.back().pieces.back().emplace_back();
      continue;
    }
    std::size_t indent = 0;
    while (is_py_space(body[indent])) ++indent;
    if (in_option && indent > indent_level) {
      sections.back().pieces.back().emplace_back(value);
      continue;
    }
    indent_level = indent;
    auto close = value.rfind(']');
    if (value.front() == '[' && close != std::string_view::npos && close >= 2) {
      std::string name(value.substr(1, close - 1));
      // configparser keeps DEFAULT apart and lets it repeat.
      if (name != "DEFAULT" && !seen_sections.insert(name).second)
        reject(i, "repeats section [" + name + "]");
      if (!sections.empty()) sections.back().end = i;
      sections.push_back({name, i, lines.size(), {}, {}, {}});
      in_option = false;
      continue;
    }
    if (sections.empty()) reject(i, "is outside any [section]");
    auto delim = value.find_first_of("=:");
    if (delim == std::string_view::npos) reject(i, "is neither a section, a setting nor a comment");
    auto key = value.substr(0, delim);
    while (!key.empty() && is_py_space(key.back())) key.remove_suffix(1);
    if (key.empty()) reject(i, "has a setting without a name");
    auto& s = sections.back();
    auto name = lower(key);
    if (!seen_options.emplace(s.name, name).second)
      reject(i, "repeats " + name + " in section [" + s.name + "]");
    s.options.emplace_back(name, "");
    s.pieces.push_back({std::string(py_strip(value.substr(delim + 1)))});
    s.option_lines.push_back(i);
    in_option = true;
  }
  for (auto& s : sections) {
    for (std::size_t k = 0; k < s.options.size(); ++k) {
      std::string joined;
      for (std::size_t p = 0; p < s.pieces[k].size(); ++p) {
        if (p > 0) joined += '\n';
        joined += s.pieces[k][p];
      }
      while (!joined.empty() && is_py_space(joined.back())) joined.pop_back();
      // botocore reads a value that starts on the next line as nested `key = value` lines.
      if (joined.starts_with('\n'))
        for (std::size_t p = 1; p < s.pieces[k].size(); ++p)
          if (!py_strip(s.pieces[k][p]).empty() && s.pieces[k][p].find('=') == std::string::npos)
            reject(s.option_lines[k], "has a nested setting without '='");
      s.options[k].second = std::move(joined);
    }
    s.pieces.clear();
    s.option_lines.clear();
  }
  return sections;
}

// shlex.split(s) in POSIX mode, as far as section names need it; nullopt where shlex raises.
std::optional<std::vector<std::string>> shlex_split(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        word += c;
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) {
        word += s[++i];
      } else {
        word += c;
      }
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      in_word = true;
      if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '\\') {
        if (i + 1 == s.size()) return std::nullopt;
        word += s[++i];
      } else {
        word += c;
      }
    }
  }
  if (quote != 0) return std::nullopt;
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The profile botocore files section `name` under, if any.
std::optional<std::string> profile_of(const std::string& name) {
  if (name.starts_with("profile")) {
    auto words = shlex_split(name);
    if (words && words->size() == 2) return (*words)[1];
    return std::nullopt;
  }
  if (name == "default") return name;
  return std::nullopt;
}

void check_profile_name(std::string_view profile) {
  bool ok = !profile.empty();
  for (char c : profile)
    if (is_control(c) || is_py_space(c) || c == '[' || c == ']' || c == '\'' || c == '"' ||
        c == '\\')
      ok = false;
  if (!ok)
    throw std::invalid_argument(
        "invalid AWS profile name \"" + std::string(profile) +
        "\": it must be non-empty, without whitespace, control characters, brackets, quotes or "
        "backslashes");
}

void check_settings(const aws_settings& settings) {
  std::set<std::string> keys;
  for (const auto& [key, value] : settings) {
    bool key_ok = !key.empty();
    for (char c : key)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || c == '.'))
        key_ok = false;
    if (!key_ok)
      throw std::invalid_argument("invalid AWS config key \"" + key +
                                  "\": use letters, digits, '_', '-' and '.'");
    if (!keys.insert(lower(key)).second)
      throw std::invalid_argument("AWS config key " + key + " is given twice");
    for (char c : value)
      if (is_control(c))
        throw std::invalid_argument("the value of AWS config key " + key +
                                    " has a line break or control character");
    if (py_strip(value) != value)
      throw std::invalid_argument("the value of AWS config key " + key +
                                  " starts or ends with whitespace, which aws would drop");
  }
}

std::string render(const aws_settings& settings, std::string_view indent, std::string_view eol) {
  std::string out;
  for (const auto& [key, value] : settings) {
    out += indent;
    out += key;
    out += value.empty() ? " =" : " = ";
    out += value;
    out += eol;
  }
  return out;
}

// The safety net under the text edit: everything aws reads from the new text must be what it
// read from the old, except the one profile, which must hold exactly `settings`.
void check_edit(const std::vector<ini_section>& before, std::optional<std::size_t> target,
                const std::string& header_name, const aws_settings& settings,
                std::string_view edited) {
  std::vector<ini_section> after;
  try {
    after = parse_ini(split_lines(edited));
  } catch (const std::runtime_error&) {
    throw std::runtime_error(
        "aws config: the edited file would not parse (unusual indentation?); apono will not write "
        "it");
  }
  aws_settings wanted;
  for (const auto& [key, value] : settings) wanted.emplace_back(lower(key), value);
  auto expected = before;
  if (target) {
    expected[*target].options = wanted;
  } else {
    expected.push_back({header_name, 0, 0, wanted, {}, {}});
  }
  bool same = after.size() == expected.size();
  for (std::size_t i = 0; same && i < after.size(); ++i)
    same = after[i].name == expected[i].name && after[i].options == expected[i].options;
  if (!same)
    throw std::runtime_error(
        "aws config: editing the profile would change other settings (unusual indentation?); "
        "apono will not write it");
}

}  // namespace

std::string upsert_aws_profile(std::string_view text, std::string_view profile,
                               const aws_settings& settings) {
  check_profile_name(profile);
  check_settings(settings);
  if (has_bare_cr(text))
    throw std::runtime_error("aws config: has bare CR line endings; apono will not edit it");
  auto lines = split_lines(text);
  auto sections = parse_ini(lines);
  std::string header_name = profile == "default" ? "default" : "profile " + std::string(profile);
  std::optional<std::size_t> target;
  for (std::size_t i = 0; i < sections.size(); ++i)
    if (profile_of(sections[i].name) == profile) target = i;

  auto eol = line_ending(lines);
  std::string out;
  if (target) {
    const auto& s = sections[*target];
    const auto& header = lines[s.header];
    auto indent = header.body.substr(0, header.body.find_first_not_of(" \t"));
    // Comments and blank lines just above the next header usually introduce that section.
    auto keep = s.end;
    while (keep > s.header + 1 && is_blank_or_comment(lines[keep - 1])) --keep;
    out.append(text.substr(0, line_offset(lines, s.header + 1, text.size())));
    if (header.eol.empty()) out += eol;
    out += render(settings, indent, eol);
    out.append(text.substr(line_offset(lines, keep, text.size())));
  } else {
    out.assign(text);
    if (!lines.empty()) {
      if (lines.back().eol.empty()) out += eol;
      if (!py_strip(lines.back().body).empty()) out += eol;
    }
    out += "[" + header_name + "]";
    out += eol;
    out += render(settings, "", eol);
  }
  check_edit(sections, target, header_name, settings, out);
  return out;
}

std::filesystem::path aws_config_path() {
  const char* home = std::getenv("HOME");
  auto require_home = [home]() -> std::string {
    if (!home || !*home) throw std::runtime_error("HOME is not set");
    return home;
  };
  if (const char* file = std::getenv("AWS_CONFIG_FILE"); file && *file) {
    std::string_view f{file};
    if (f == "~" || f.starts_with("~/")) return require_home() + std::string(f.substr(1));
    return f;
  }
  return std::filesystem::path(require_home()) / ".aws" / "config";
}

std::filesystem::path write_aws_profile(std::string_view profile, const aws_settings& settings) {
  auto path = aws_config_path();
  edit_private_file(path, [profile, &settings](std::string_view old) {
    return upsert_aws_profile(old, profile, settings);
  });
  return path;
}

}  // namespace apono::cli
