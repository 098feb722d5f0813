// The kubeconfig editor works on lines, not on a re-emitted YAML tree, because re-emitting would
// reformat the whole file (comments lost, keys reordered, quoting changed). yaml-cpp is used to
// read the structure the lines are cut along and, after the edit, to prove that nothing but
// apono's entries changed.
//
// The layout it understands is block YAML with top-level keys at column 0:
//   clusters:            <- a top-level entry runs to the next column-0 line that is not a
//   - cluster:              comment, blank or `-` item
//       server: ...      <- an item starts with `-` at the list's item column and runs to the
//     name: x               next such `-` or the end of the entry
//   current-context: x
// Anything else (JSON, flow lists with content, several documents, anchors in the lists) is
// refused rather than guessed at.
#include "cli/kubeconfig_file.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "cli/private_file.hpp"
#include "cli/text_lines.hpp"
#include "common/secrets.hpp"

namespace apono::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view list_keys[] = {"clusters", "contexts", "users"};

[[noreturn]] void refuse(const std::string& why) {
  throw std::runtime_error("kubeconfig: " + why + "; apono will not rewrite it");
}

std::string line_no(std::size_t i) {
  return "line " + std::to_string(i + 1);
}

bool is_blank(const text_line& l) {
  return l.body.find_first_not_of(" \t") == std::string_view::npos;
}

bool is_comment(const text_line& l) {
  auto p = l.body.find_first_not_of(" \t");
  return p != std::string_view::npos && l.body[p] == '#';
}

bool is_content(const text_line& l) {
  return !is_blank(l) && !is_comment(l);
}

std::size_t indent_of(const text_line& l) {
  auto p = l.body.find_first_not_of(' ');
  return p == std::string_view::npos ? l.body.size() : p;
}

// `-` followed by a space or the end of the line, at column `col`.
bool is_item_start(const text_line& l, std::size_t col) {
  auto b = l.body;
  return b.size() > col && indent_of(l) == col && b[col] == '-' &&
         (b.size() == col + 1 || b[col + 1] == ' ');
}

/// A top-level key and the lines of its value.
struct top_entry {
  std::string key;
  std::size_t first = 0;        ///< the key's line
  std::size_t content_end = 0;  ///< one past the entry's last line that is not blank or comment
  bool inline_value = false;    ///< something other than a comment follows the key's colon
};

/// An item of a block list.
struct list_item {
  std::size_t first = 0;        ///< the `-` line
  std::size_t content_end = 0;  ///< one past its last line that is not blank or comment
  std::string name;             ///< its `name:`, "" when it has none
};

/// One of clusters / contexts / users.
struct list_info {
  enum class shape {
    missing,  ///< no such top-level key
    empty,    ///< `key:`, `key: null`, `key: []`
    block     ///< `- ` items
  } shape = shape::missing;
  std::size_t entry = 0;         ///< index of its top_entry, unless missing
  std::size_t indent = 0;        ///< column of the items' `-`
  std::vector<list_item> items;  ///< in file order
};

/// The parsed file.
struct document {
  std::string_view text;
  std::vector<text_line> lines;
  YAML::Node root;  ///< Null for an empty file, else a block map
  std::vector<top_entry> entries;
  std::map<std::string, list_info, std::less<>> lists;
};

// The key of a column-0 line `key: ...` as YAML reads it, and what follows the colon.
std::optional<std::pair<std::string, std::string_view>> top_key(std::string_view body) {
  std::size_t pos = 0;
  if (body.front() == '"' || body.front() == '\'') {
    char q = body.front();
    for (pos = 1; pos < body.size(); ++pos) {
      if (q == '"' && body[pos] == '\\') {
        ++pos;
      } else if (body[pos] == q) {
        if (q == '\'' && pos + 1 < body.size() && body[pos + 1] == '\'') {
          ++pos;
        } else {
          break;
        }
      }
    }
    if (pos >= body.size()) return std::nullopt;
    pos = body.find_first_not_of(' ', pos + 1);
    if (pos == std::string_view::npos || body[pos] != ':') return std::nullopt;
  } else {
    for (;; ++pos) {
      if (pos >= body.size() || (body[pos] == '#' && pos > 0 && body[pos - 1] == ' '))
        return std::nullopt;
      if (body[pos] == ':' && (pos + 1 == body.size() || body[pos + 1] == ' ')) break;
    }
  }
  try {
    auto node = YAML::Load(std::string(body.substr(0, pos)) + ": ~");
    if (!node.IsMap() || node.size() != 1) return std::nullopt;
    auto key = node.begin()->first;
    if (!key.IsScalar()) return std::nullopt;
    return std::make_pair(key.Scalar(), body.substr(pos + 1));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

// Finds anchors and aliases, which an edit could leave dangling or change behind our back.
class anchor_finder : public YAML::EventHandler {
 public:
  bool found = false;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t a) override { note(a); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { found = true; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t a,
                const std::string&) override {
    note(a);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override {
    note(a);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override {
    note(a);
  }
  void OnMapEnd() override {}

 private:
  void note(YAML::anchor_t a) {
    if (a != YAML::NullAnchor) found = true;
  }
};

// True when `fragment` defines or uses an anchor; an alias to an anchor outside it does not
// parse alone, which counts as using one.
bool has_anchors(std::string_view fragment) {
  std::istringstream in{std::string(fragment)};
  YAML::Parser parser(in);
  anchor_finder finder;
  try {
    while (parser.HandleNextDocument(finder)) {
    }
  } catch (const YAML::Exception&) {
    return true;
  }
  return finder.found;
}

std::string slice(const document& d, std::size_t from, std::size_t to) {
  auto a = line_offset(d.lines, from, d.text.size());
  auto b = line_offset(d.lines, to, d.text.size());
  return std::string(d.text.substr(a, b - a));
}

std::string item_name(const YAML::Node& item) {
  if (!item.IsMap()) return {};
  auto n = item["name"];
  return n && n.IsScalar() ? n.Scalar() : std::string{};
}

list_info read_list(const document& d, std::string_view key) {
  list_info info;
  auto it = std::find_if(d.entries.begin(), d.entries.end(),
                         [key](const top_entry& t) { return t.key == key; });
  if (it == d.entries.end()) return info;
  info.entry = static_cast<std::size_t>(it - d.entries.begin());
  const auto& entry = *it;
  const auto node = d.root[std::string(key)];
  std::string k(key);
  if (node.IsNull() ||
      (node.IsSequence() && node.size() == 0 && node.Style() == YAML::EmitterStyle::Flow)) {
    info.shape = list_info::shape::empty;
    return info;
  }
  if (!node.IsSequence()) refuse(k + " (" + line_no(entry.first) + ") is not a list");
  if (node.Style() == YAML::EmitterStyle::Flow)
    refuse(k + " (" + line_no(entry.first) + ") is written in flow style ([...])");
  if (has_anchors(slice(d, entry.first, entry.content_end)))
    refuse(k + " (" + line_no(entry.first) + ") uses YAML anchors or aliases");
  if (entry.inline_value)
    refuse(k + " (" + line_no(entry.first) + ") has a value on its key's line");

  info.shape = list_info::shape::block;
  std::size_t first_item = entry.first + 1;
  while (first_item < entry.content_end && !is_content(d.lines[first_item])) ++first_item;
  if (first_item == entry.content_end ||
      !is_item_start(d.lines[first_item], indent_of(d.lines[first_item])))
    refuse(k + " (" + line_no(entry.first) + ") is not a block list of `- ` items");
  info.indent = indent_of(d.lines[first_item]);
  for (auto i = first_item; i < entry.content_end; ++i) {
    const auto& l = d.lines[i];
    if (!is_content(l)) continue;
    if (is_item_start(l, info.indent)) {
      info.items.push_back({i, i + 1, {}});
    } else if (indent_of(l) <= info.indent) {
      refuse(k + " has a line outside its items (" + line_no(i) + ")");
    } else {
      info.items.back().content_end = i + 1;
    }
  }
  for (auto& item : info.items) {
    std::string fragment;
    for (auto i = item.first; i < item.content_end; ++i) {
      auto body = d.lines[i].body;
      fragment.append(body.substr(std::min(indent_of(d.lines[i]), info.indent)));
      fragment += '\n';
    }
    try {
      auto parsed = YAML::Load(fragment);
      if (!parsed.IsSequence() || parsed.size() != 1) throw YAML::Exception({}, "not one item");
      item.name = item_name(parsed[0]);
    } catch (const YAML::Exception&) {
      refuse("the item of " + k + " at " + line_no(item.first) + " does not parse on its own");
    }
  }
  bool same = info.items.size() == node.size();
  for (std::size_t i = 0; same && i < info.items.size(); ++i)
    same = info.items[i].name == item_name(node[i]);
  if (!same)
    refuse(k + " (" + line_no(entry.first) + ") is laid out in a way apono does not follow");
  return info;
}

document parse_document(std::string_view text) {
  document d;
  d.text = text;
  if (has_bare_cr(text)) refuse("it has bare CR line endings");
  d.lines = split_lines(text);
  for (std::size_t i = 0; i < d.lines.size(); ++i) {
    const auto& l = d.lines[i];
    auto lead = l.body.substr(0, l.body.find_first_not_of(" \t"));
    if (!is_blank(l) && lead.find('\t') != std::string_view::npos)
      refuse(line_no(i) + " is indented with a tab");
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& ex) {
    refuse(std::string("it does not parse as YAML (") + ex.what() + ")");
  }
  if (docs.size() > 1) refuse("it holds several YAML documents (---)");
  if (!docs.empty()) d.root = docs.front();
  if (d.root.IsDefined() && !d.root.IsNull()) {
    if (!d.root.IsMap()) refuse("its top level is not a mapping of keys");
    if (d.root.Style() == YAML::EmitterStyle::Flow)
      refuse("it is written in flow style ({...}, JSON?)");
  } else {
    d.root = YAML::Node(YAML::NodeType::Null);
  }

  for (std::size_t i = 0; i < d.lines.size(); ++i) {
    const auto& l = d.lines[i];
    if (!is_content(l) || indent_of(l) > 0) continue;
    if (is_item_start(l, 0)) {
      if (d.entries.empty()) refuse(line_no(i) + " is a list item outside any key");
      continue;
    }
    bool marker = l.body.starts_with("---") || l.body.starts_with("...") || l.body[0] == '%';
    if (marker) {
      if (!d.entries.empty()) refuse(line_no(i) + " is a document marker after the first key");
      continue;
    }
    auto key = top_key(l.body);
    if (!key) refuse(line_no(i) + " is not a `key:` line apono can read");
    for (const auto& e : d.entries)
      if (e.key == key->first) refuse("the top-level key " + e.key + " appears twice");
    auto rest = key->second;
    auto p = rest.find_first_not_of(' ');
    bool inline_value = p != std::string_view::npos && rest[p] != '#';
    d.entries.push_back({key->first, i, i + 1, inline_value});
  }
  // Indented lines belong to the entry above them.
  for (std::size_t n = 0; n < d.entries.size(); ++n) {
    auto end = n + 1 < d.entries.size() ? d.entries[n + 1].first : d.lines.size();
    for (auto i = d.entries[n].first + 1; i < end; ++i)
      if (is_content(d.lines[i])) d.entries[n].content_end = i + 1;
  }
  std::vector<std::string> yaml_keys;
  if (d.root.IsMap())
    for (const auto& kv : d.root) yaml_keys.push_back(kv.first.Scalar());
  bool same = yaml_keys.size() == d.entries.size();
  for (std::size_t i = 0; same && i < yaml_keys.size(); ++i)
    same = yaml_keys[i] == d.entries[i].key;
  if (!same) refuse("its top-level keys are laid out in a way apono does not follow");
  for (auto key : list_keys) d.lists.emplace(std::string(key), read_list(d, key));
  return d;
}

std::string base64(std::string_view in) {
  static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 |
                 static_cast<unsigned char>(in[i + 1]) << 8 | static_cast<unsigned char>(in[i + 2]);
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    out += abc[v >> 6 & 63];
    out += abc[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1])
                                                               << 8;
    out += abc[v >> 18 & 63];
    out += abc[v >> 12 & 63];
    out += abc[v >> 6 & 63];
    out += '=';
  }
  return out;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Plain only when no YAML reader (kubectl's is YAML 1.1) could take it for anything but this
// string: no numbers, booleans, nulls, indicators or spaces.
bool plain_is_safe(std::string_view s) {
  if (s.empty() || !(is_alpha(s.front()) || s.front() == '/' || s.front() == '_')) return false;
  if (s.back() == ':') return false;
  for (char c : s)
    if (!(is_alpha(c) || (c >= '0' && c <= '9') ||
          std::string_view{"_./:@+=-"}.find(c) != std::string_view::npos))
      return false;
  std::string low(s);
  for (auto& c : low)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (std::string_view word : {"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
    if (low == word) return false;
  return true;
}

std::string scalar(std::string_view s) {
  if (plain_is_safe(s)) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') {
          static constexpr char hex[] = "0123456789ABCDEF";
          out += "\\x";
          out += hex[static_cast<unsigned char>(c) >> 4];
          out += hex[c & 15];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// Lines of YAML at an indentation, in the file's line endings.
class yaml_writer {
 public:
  yaml_writer(std::size_t indent, std::string_view eol) : indent_(indent, ' '), eol_(eol) {}
  void line(std::size_t depth, std::string_view text) {
    out_ += indent_;
    out_.append(depth * 2, ' ');
    out_ += text;
    out_ += eol_;
  }
  void field(std::size_t depth, std::string_view key, std::string_view value) {
    line(depth, std::string(key) + ": " + scalar(value));
  }
  [[nodiscard]] const std::string& str() const { return out_; }

 private:
  std::string indent_;
  std::string_view eol_;
  std::string out_;
};

// Items in kubectl's own layout (keys sorted, nested lists not indented), so a file kubectl
// rewrites later keeps them as they are.
std::string cluster_item(const kube_entries& e, std::size_t indent, std::string_view eol) {
  yaml_writer w(indent, eol);
  w.line(0, "- cluster:");
  if (!e.ca_pem.empty()) w.field(2, "certificate-authority-data", base64(e.ca_pem));
  w.field(2, "server", e.server);
  w.field(1, "name", e.name);
  return w.str();
}

std::string context_item(const kube_entries& e, std::size_t indent, std::string_view eol) {
  yaml_writer w(indent, eol);
  w.line(0, "- context:");
  w.field(2, "cluster", e.name);
  if (!e.namespace_name.empty()) w.field(2, "namespace", e.namespace_name);
  w.field(2, "user", e.name);
  w.field(1, "name", e.name);
  return w.str();
}

std::string user_item(const kube_entries& e, std::size_t indent, std::string_view eol) {
  yaml_writer w(indent, eol);
  w.line(0, "- name: " + scalar(e.name));
  w.line(1, "user:");
  w.line(2, "exec:");
  w.field(3, "apiVersion", kube_exec_api_version);
  if (!e.exec_args.empty()) {
    w.line(3, "args:");
    for (const auto& a : e.exec_args) w.line(3, "- " + scalar(a));
  }
  w.field(3, "command", e.exec_command);
  w.line(3, "interactiveMode: Never");
  w.line(3, "provideClusterInfo: false");
  return w.str();
}

std::string render_item(std::string_view list, const kube_entries& e, std::size_t indent,
                        std::string_view eol) {
  if (list == "clusters") return cluster_item(e, indent, eol);
  if (list == "contexts") return context_item(e, indent, eol);
  return user_item(e, indent, eol);
}

// What the items are expected to read back as.
YAML::Node expected_item(std::string_view list, const kube_entries& e) {
  YAML::Node n;
  n["name"] = e.name;
  if (list == "clusters") {
    if (!e.ca_pem.empty()) n["cluster"]["certificate-authority-data"] = base64(e.ca_pem);
    n["cluster"]["server"] = e.server;
  } else if (list == "contexts") {
    n["context"]["cluster"] = e.name;
    if (!e.namespace_name.empty()) n["context"]["namespace"] = e.namespace_name;
    n["context"]["user"] = e.name;
  } else {
    auto exec = n["user"]["exec"];
    exec["apiVersion"] = std::string(kube_exec_api_version);
    for (const auto& a : e.exec_args) exec["args"].push_back(a);
    exec["command"] = e.exec_command;
    exec["interactiveMode"] = "Never";
    exec["provideClusterInfo"] = "false";
  }
  return n;
}

// A comparable text form of a node: maps sorted by key, scalars length-prefixed, and with
// `tags` their quoting (a quoted "1" is a string, a plain 1 a number for kubectl).
std::string canonical(const YAML::Node& n, bool tags, int depth = 0) {
  if (depth > 100) refuse("it nests too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "~";
    case YAML::NodeType::Scalar:
      return (tags ? n.Tag() + "|" : std::string{}) + std::to_string(n.Scalar().size()) + ":" +
             n.Scalar();
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : n) out += canonical(item, tags, depth + 1) + ",";
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::vector<std::string> pairs;
      for (const auto& kv : n)
        pairs.push_back(canonical(kv.first, tags, depth + 1) + "=" +
                        canonical(kv.second, tags, depth + 1));
      std::sort(pairs.begin(), pairs.end());
      std::string out = "{";
      for (const auto& p : pairs) out += p + ";";
      return out + "}";
    }
    default:
      return "?";
  }
}

/// One line-range replacement; from == to inserts.
struct edit {
  std::size_t from = 0;
  std::size_t to = 0;
  std::string text;
};

std::string apply(const document& d, std::vector<edit> edits, const std::string& appended,
                  std::string_view eol) {
  std::sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) {
    return a.from != b.from ? a.from < b.from : a.to < b.to;
  });
  std::string out;
  std::size_t at = 0;
  for (const auto& ed : edits) {
    out += slice(d, at, ed.from);
    if (ed.from > 0 && ed.from == d.lines.size() && d.lines.back().eol.empty()) out += eol;
    out += ed.text;
    at = ed.to;
  }
  out += slice(d, at, d.lines.size());
  if (!appended.empty()) {
    if (!out.empty() && out.back() != '\n') out += eol;
    out += appended;
  }
  return out;
}

void check_entries(const kube_entries& e) {
  for (char c : e.name)
    if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f')
      throw std::invalid_argument("kubeconfig entry name has a control character");
  if (e.name.empty()) throw std::invalid_argument("kubeconfig entry name is empty");
  if (e.server.empty()) throw std::invalid_argument("kubeconfig cluster server is empty");
  if (!e.exec_command.starts_with('/'))
    throw std::invalid_argument("kubeconfig exec command must be an absolute path, not \"" +
                                e.exec_command + "\"");
}

// The edit proper. `entries` null: only current-context; `context` null: leave it alone.
std::string edit_kubeconfig(std::string_view text, const kube_entries* entries,
                            const std::string* context) {
  auto d = parse_document(text);
  auto eol = line_ending(d.lines);
  std::size_t default_indent = 0;
  for (const auto& [key, info] : d.lists)
    if (info.shape == list_info::shape::block) default_indent = info.indent;

  std::vector<edit> edits;
  std::map<std::string, std::string> appended_keys;  // key -> its lines
  if (entries != nullptr) {
    for (const auto& [key, info] : d.lists) {
      if (info.shape == list_info::shape::missing) {
        appended_keys[key] =
            key + ":" + std::string(eol) + render_item(key, *entries, default_indent, eol);
      } else if (info.shape == list_info::shape::empty) {
        const auto& entry = d.entries[info.entry];
        auto items = render_item(key, *entries, default_indent, eol);
        if (!entry.inline_value && entry.content_end == entry.first + 1) {
          edits.push_back({entry.first + 1, entry.first + 1, items});
        } else {
          edits.push_back({entry.first, entry.content_end, key + ":" + std::string(eol) + items});
        }
      } else {
        auto item = render_item(key, *entries, info.indent, eol);
        std::vector<const list_item*> same_name;
        for (const auto& it : info.items)
          if (it.name == entries->name) same_name.push_back(&it);
        if (same_name.size() > 1)
          refuse(key + " has two entries named " + entries->name + " (kubectl rejects that too)");
        if (same_name.empty()) {
          auto end = d.entries[info.entry].content_end;
          edits.push_back({end, end, item});
        } else {
          edits.push_back({same_name.front()->first, same_name.front()->content_end, item});
        }
      }
    }
  }
  if (context != nullptr) {
    auto line = "current-context: " + scalar(*context) + std::string(eol);
    auto it = std::find_if(d.entries.begin(), d.entries.end(),
                           [](const top_entry& t) { return t.key == "current-context"; });
    if (it == d.entries.end()) {
      appended_keys["current-context"] = line;
    } else {
      edits.push_back({it->first, it->content_end, line});
    }
  }
  std::vector<std::string> new_keys;
  if (d.root.IsNull()) {
    appended_keys["apiVersion"] = "apiVersion: v1" + std::string(eol);
    appended_keys["kind"] = "kind: Config" + std::string(eol);
    appended_keys["preferences"] = "preferences: {}" + std::string(eol);
  }
  // std::map orders them as kubectl does: alphabetically.
  std::string appended;
  for (const auto& [key, lines] : appended_keys) {
    appended += lines;
    new_keys.push_back(key);
  }
  auto out = apply(d, std::move(edits), appended, eol);

  // The safety net: everything but our entries must read back unchanged, and ours as intended.
  // Only const access to the trees: a non-const operator[] would add the key it looks up.
  document after;
  try {
    after = parse_document(out);
  } catch (const std::runtime_error&) {
    refuse("the edited text would not parse back (an unusual layout?)");
  }
  std::vector<std::string> want_keys;
  for (const auto& t : d.entries) want_keys.push_back(t.key);
  std::vector<std::string> got_keys;
  for (const auto& t : after.entries) got_keys.push_back(t.key);
  for (const auto& k : new_keys)
    if (std::find(want_keys.begin(), want_keys.end(), k) == want_keys.end()) want_keys.push_back(k);
  std::sort(want_keys.begin(), want_keys.end());
  std::sort(got_keys.begin(), got_keys.end());
  bool ok = want_keys == got_keys;
  const YAML::Node& old_root = d.root;
  const YAML::Node& new_root = after.root;
  for (const auto& t : d.entries) {
    if (!ok) break;
    bool is_list = d.lists.contains(t.key);
    if (t.key == "current-context" && context != nullptr) continue;
    if (is_list && entries != nullptr) continue;
    ok = canonical(old_root[t.key], true) == canonical(new_root[t.key], true);
  }
  if (ok && context != nullptr) {
    const auto cc = new_root["current-context"];
    ok = cc.IsScalar() && cc.Scalar() == *context;
  }
  if (ok && entries != nullptr) {
    for (const auto& [key, info] : d.lists) {
      std::vector<std::string> before_items, after_items;
      std::size_t ours = 0;
      if (info.shape == list_info::shape::block)
        for (const auto& item : old_root[key])
          if (item_name(item) != entries->name) before_items.push_back(canonical(item, true));
      for (const auto& item : new_root[key]) {
        if (item_name(item) != entries->name) {
          after_items.push_back(canonical(item, true));
        } else {
          ++ours;
          ok = ok && canonical(item, false) == canonical(expected_item(key, *entries), false);
        }
      }
      ok = ok && ours == 1 && before_items == after_items;
    }
  }
  if (!ok) refuse("the edit would not read back as intended (an unusual layout?)");
  return out;
}

// True when the file at `path` holds a cluster, user or context named `name`.
bool file_defines(const fs::path& path, std::string_view name) {
  auto text = common::read_file(path);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& ex) {
    throw std::runtime_error(path.string() + ": kubeconfig does not parse as YAML (" + ex.what() +
                             ")");
  }
  for (const auto& doc : docs) {
    if (!doc.IsMap()) continue;
    for (auto key : list_keys) {
      const auto list = doc[std::string(key)];
      if (!list.IsSequence()) continue;
      for (const auto& item : list)
        if (item_name(item) == name) return true;
    }
  }
  return false;
}

// kubectl's lock around its read-modify-write of a kubeconfig (clientcmd lockFile: create
// `FILE.lock` exclusively, remove it when done), so that apono and a concurrent kubectl never
// both write the file from the same old text.
class kubectl_lock {
 public:
  explicit kubectl_lock(const fs::path& file) : path_(file.string() + ".lock") {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    int err = errno;
    path_.clear();
    // No directory yet: nobody can be writing the file, and edit_private_file creates it 0700.
    if (err == ENOENT) return;
    if (err == EEXIST)
      throw std::runtime_error(file.string() +
                               ".lock exists: kubectl is changing the kubeconfig (or crashed "
                               "while doing so; then remove the lock file)");
    throw std::runtime_error("cannot create " + file.string() + ".lock: " + std::strerror(err));
  }
  ~kubectl_lock() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  kubectl_lock(const kubectl_lock&) = delete;
  kubectl_lock& operator=(const kubectl_lock&) = delete;

 private:
  std::string path_;
};

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::absolute(a).lexically_normal() == fs::absolute(b).lexically_normal();
}

}  // namespace

std::string upsert_kubeconfig(std::string_view text, const kube_entries& e) {
  check_entries(e);
  return edit_kubeconfig(text, &e, e.switch_context ? &e.name : nullptr);
}

std::string set_kubeconfig_current_context(std::string_view text, std::string_view context) {
  if (context.empty()) throw std::invalid_argument("kubeconfig context name is empty");
  std::string name(context);
  return edit_kubeconfig(text, nullptr, &name);
}

std::vector<fs::path> kubeconfig_paths() {
  std::vector<fs::path> paths;
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string_view rest{env};
    while (true) {
      auto colon = rest.find(':');
      auto part = rest.substr(0, colon);
      if (!part.empty() && std::find(paths.begin(), paths.end(), fs::path(part)) == paths.end())
        paths.emplace_back(part);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  if (paths.empty()) {
    const char* home = std::getenv("HOME");
    if (!home || !*home) throw std::runtime_error("neither KUBECONFIG nor HOME is set");
    paths.push_back(fs::path(home) / ".kube" / "config");
  }
  return paths;
}

// kubectl's config commands write through client-go's clientcmd.ModifyConfig: a changed stanza
// goes back to its LocationOfOrigin, the file it was loaded from; a new stanza and
// current-context go to PathOptions.GetDefaultFilename(). When loading, "the first file to set a
// particular map key wins" (ClientConfigLoadingRules.Load), so writing into the first file that
// defines any of the three names makes all three take effect.
fs::path kubeconfig_write_target(std::string_view entry_name) {
  for (const auto& p : kubeconfig_paths()) {
    std::error_code ec;
    if (fs::exists(p, ec) && file_defines(p, entry_name)) return p;
  }
  return kubeconfig_current_context_target();
}

// PathOptions.GetDefaultFilename() (k8s.io/client-go/tools/clientcmd/config.go): a single
// $KUBECONFIG file, else the first one that exists, else the last one.
fs::path kubeconfig_current_context_target() {
  auto paths = kubeconfig_paths();
  if (paths.size() == 1) return paths.front();
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  return paths.back();
}

std::vector<fs::path> write_kubeconfig_entries(const kube_entries& e) {
  check_entries(e);
  auto target = kubeconfig_write_target(e.name);
  auto context_target = kubeconfig_current_context_target();
  bool split = e.switch_context && !same_file(target, context_target);
  // Sorted, as kubectl sorts its locks, so two writers never wait on each other crosswise.
  std::vector<fs::path> files{target};
  if (split) files.push_back(context_target);
  std::sort(files.begin(), files.end());
  std::vector<std::unique_ptr<kubectl_lock>> locks;
  for (const auto& f : files) locks.push_back(std::make_unique<kubectl_lock>(f));

  auto entries = e;
  entries.switch_context = e.switch_context && !split;
  std::vector<fs::path> written;
  if (edit_private_file(
          target, [&entries](std::string_view old) { return upsert_kubeconfig(old, entries); }))
    written.push_back(target);
  if (split && edit_private_file(context_target, [&e](std::string_view old) {
        return set_kubeconfig_current_context(old, e.name);
      }))
    written.push_back(context_target);
  return written;
}

}  // namespace apono::cli
