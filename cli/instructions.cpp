// The instructions block and the time formats it uses.
#include "cli/instructions.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <ctime>
#include <ostream>

#include "cli/output.hpp"
#include "common/duration.hpp"
#include "common/time.hpp"

namespace apono::cli {

namespace json = boost::json;

// Local time for people; JSON keeps the broker's UTC strings for scripts.
std::string local_time(const std::string& rfc3339, const char* fmt) {
  auto t = common::parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(*t));
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  return std::strftime(buf, sizeof buf, fmt, &tm) ? std::string(buf) : rfc3339;
}

// `in 9m12s`, or `ended` once the end has passed (the broker is revoking by then).
std::string time_left(const std::string& rfc3339) {
  auto t = common::parse_rfc3339(rfc3339);
  if (!t) return {};
  auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*t - now);
  return left.count() > 0 ? "in " + common::format_duration(left) : "ended";
}

std::string valid_until(const std::string& ends_at) {
  return local_time(ends_at, "%Y-%m-%d %H:%M:%S %Z") + " (" + time_left(ends_at) + ")";
}

// The two ready-to-paste psql commands; every value shell-quoted, since passwords and
// database names are data, not shell.
std::vector<std::string> psql_commands(const json::value& u) {
  std::vector<std::string> cmds;
  if (auto cs = text(u, "connection_string"); !cs.empty())
    cmds.push_back("psql " + shell_quote(cs));
  std::string env = "PGPASSWORD=" + shell_quote(text(u, "password"));
  // libpq prefers TLS by default already; anything stricter must survive the copy-paste.
  if (auto ssl = text(u, "sslmode"); !ssl.empty() && ssl != "prefer")
    env += " PGSSLMODE=" + shell_quote(ssl);
  cmds.push_back(env + " psql -h " + shell_quote(text(u, "host")) + " -p " +
                 shell_quote(text(u, "port")) + " -U " + shell_quote(text(u, "username")) + " -d " +
                 shell_quote(text(u, "database")));
  return cmds;
}

std::string unit_title(const json::value& d, const json::value& u) {
  return text(d, "request_id") + ": " + text(u, "resource") + " (" + text(u, "permission") +
         ") on " + text(u, "integration");
}

void print_instructions(std::ostream& out, const json::value& d, const unit_printer& more) {
  auto until = valid_until(text(d, "ends_at"));
  for (const auto& u : d.at("units").as_array()) {
    out << unit_title(d, u) << "\n\n";
    for (const auto& [label, key] : unit_fields) {
      auto v = text(u, key);
      if (v.empty()) continue;
      std::string l = std::string(label) + ":";
      l.resize(13, ' ');
      out << "  " << l << v << "\n";
    }
    out << "  Valid until: " << until << "\n\n";
    if (text(u, "type") == "postgresql") {
      out << "Connect with psql:\n";
      for (const auto& c : psql_commands(u)) out << "  " << c << "\n";
      out << "\n";
    }
    if (more) more(out, u);
  }
  out << secrets_advice << "\n";
}

}  // namespace apono::cli
