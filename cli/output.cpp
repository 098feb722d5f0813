// Printing results.
#include "cli/output.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <cctype>
#include <ostream>
#include <set>

#include "cli/context.hpp"

namespace apono::cli {

namespace json = boost::json;

format parse_format(const std::string& s) {
  if (s == "table") return format::table;
  if (s == "json") return format::json;
  if (s == "yaml") return format::yaml;
  throw usage_error("unknown output format '" + s + "': use table, json or yaml");
}

namespace {

void pretty(std::ostream& out, const json::value& v, int indent) {
  auto pad = [&](int n) { out << std::string(static_cast<std::size_t>(n), ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out << "{}";
        return;
      }
      out << "{\n";
      std::size_t i = 0;
      for (const auto& kv : o) {
        pad(indent + 2);
        out << json::serialize(json::value(kv.key())) << ": ";
        pretty(out, kv.value(), indent + 2);
        out << (++i < o.size() ? ",\n" : "\n");
      }
      pad(indent);
      out << "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out << "[]";
        return;
      }
      out << "[\n";
      for (std::size_t i = 0; i < a.size(); ++i) {
        pad(indent + 2);
        pretty(out, a[i], indent + 2);
        out << (i + 1 < a.size() ? ",\n" : "\n");
      }
      pad(indent);
      out << "]";
      return;
    }
    default:
      out << json::serialize(v);
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void to_yaml(YAML::Emitter& y, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      y << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        y << YAML::Key << std::string(kv.key()) << YAML::Value;
        to_yaml(y, kv.value());
      }
      y << YAML::EndMap;
      break;
    case json::kind::array:
      y << YAML::BeginSeq;
      for (const auto& e : v.get_array()) to_yaml(y, e);
      y << YAML::EndSeq;
      break;
    case json::kind::string: {
      // Plain only when YAML cannot read it as anything but this string.
      std::string_view sv = v.get_string();
      static const std::set<std::string, std::less<>> words{"null", "true", "false", "yes", "no",
                                                            "on",   "off",  "~",     "y",   "n"};
      bool plain = !sv.empty() &&
                   sv.find_first_not_of(
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_./@-") == std::string_view::npos &&
                   std::isalpha(static_cast<unsigned char>(sv.front())) && !words.count(lower(sv));
      if (plain)
        y << std::string(sv);
      else
        y << YAML::DoubleQuoted << std::string(sv);
      break;
    }
    case json::kind::null:
      y << YAML::Null;
      break;
    case json::kind::bool_:
      y << v.get_bool();
      break;
    default:
      y << json::serialize(v);
  }
}

}  // namespace

void print_json(std::ostream& out, const json::value& v) {
  pretty(out, v, 0);
  out << "\n";
}

void print_yaml(std::ostream& out, const json::value& v) {
  if (v.is_array() && v.get_array().empty()) {
    out << "[]\n";
    return;
  }
  YAML::Emitter y;
  to_yaml(y, v);
  out << y.c_str() << "\n";
}

void print_table(std::ostream& out, const table& t) {
  std::vector<std::size_t> width(t.headers.size());
  for (std::size_t c = 0; c < t.headers.size(); ++c) width[c] = t.headers[c].size();
  for (const auto& row : t.rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string();
      s += cell;
      if (c + 1 < width.size()) s += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(t.headers);
  for (const auto& row : t.rows) line(row);
}

void print_result(std::ostream& out, format f, const json::value& data, const table& t,
                  std::string_view what) {
  if (f == format::json) return print_json(out, data);
  if (f == format::yaml) return print_yaml(out, data);
  if (t.rows.empty()) {
    out << "No " << what << " found.\n";
    return;
  }
  print_table(out, t);
}

std::string text(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* f = v.get_object().if_contains(key);
  if (!f || f->is_null()) return {};
  if (f->is_string()) return std::string(f->get_string());
  return json::serialize(*f);
}

std::string join(const json::value& array, std::string_view sep) {
  std::string out;
  if (!array.is_array()) return out;
  for (const auto& e : array.get_array()) {
    if (!out.empty()) out += sep;
    out += e.is_string() ? std::string(e.get_string()) : json::serialize(e);
  }
  return out;
}

}  // namespace apono::cli
