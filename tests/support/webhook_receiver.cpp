// The receiver's JSON lines, read back from its log.
#include "tests/support/webhook_receiver.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "common/secrets.hpp"

namespace apono::test {

namespace json = boost::json;

namespace {

std::filesystem::path source_dir() {
  return std::filesystem::path(APONO_SOURCE_DIR);
}

}  // namespace

webhook_receiver::webhook_receiver(std::vector<std::string> secrets, const json::object& plan) {
  json::array s;
  for (auto& x : secrets) s.emplace_back(x);
  proc_ = std::make_unique<child_process>(
      std::vector<std::string>{"node",
                               (source_dir() / "tests/support/webhook_receiver.mjs").string()},
      dir_.path / "received.jsonl",
      std::map<std::string, std::string>{{"APONO_WEB_DIR", (source_dir() / "web").string()},
                                         {"RECEIVER_SECRETS", json::serialize(s)},
                                         {"RECEIVER_PLAN", json::serialize(plan)}});
  // The log holds what a receiver's access log would: the URL it was called on, whose query
  // can carry a token (a Teams Workflow's signature). Private, as such a log should be.
  std::filesystem::permissions(
      dir_.path / "received.jsonl",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  bool up = wait_until(
      [&] {
        if (!proc_->running())
          throw std::runtime_error("webhook receiver exited:\n" +
                                   common::read_file(dir_.path / "received.jsonl"));
        std::istringstream lines(common::read_file(dir_.path / "received.jsonl"));
        for (std::string line; std::getline(lines, line);) {
          boost::system::error_code ec;
          auto v = json::parse(line, ec);
          if (!ec && v.is_object() && v.as_object().contains("listening")) {
            port_ = static_cast<int>(v.at("listening").to_number<std::int64_t>());
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds{30});
  if (!up) throw std::runtime_error("webhook receiver did not start listening within 30 s");
}

webhook_receiver::~webhook_receiver() = default;

std::string webhook_receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<received_webhook> webhook_receiver::received() const {
  std::vector<received_webhook> out;
  std::istringstream lines(common::read_file(dir_.path / "received.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("path")) continue;  // node's own output
    const auto& o = v.as_object();
    received_webhook r;
    r.path = std::string(o.at("path").as_string());
    r.id = std::string(o.at("id").as_string());
    std::string ts(o.at("timestamp").as_string());
    r.timestamp = ts.empty() ? 0 : std::stoll(ts);
    r.signatures = static_cast<int>(o.at("signatures").to_number<std::int64_t>());
    for (const auto& b : o.at("verified").as_array()) r.verified.push_back(b.as_bool());
    r.type = o.at("type").is_string() ? std::string(o.at("type").as_string()) : "";
    r.body = std::string(o.at("body").as_string());
    r.json = json::parse(r.body, ec);
    r.content_type = std::string(o.at("content_type").as_string());
    r.at = common::from_unix_ms(o.at("received_at").to_number<std::int64_t>());
    r.answer = o.at("answer").is_string()
                   ? -1
                   : static_cast<int>(o.at("answer").to_number<std::int64_t>());
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<received_webhook> webhook_receiver::received(const std::string& path) const {
  std::vector<received_webhook> out;
  for (auto& r : received())
    if (r.path == path) out.push_back(std::move(r));
  return out;
}

std::vector<received_webhook> webhook_receiver::wait_for(
    const std::string& what, const std::function<bool(const std::vector<received_webhook>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::vector<received_webhook> seen;
  if (wait_until(
          [&] {
            seen = received();
            return done(seen);
          },
          timeout))
    return seen;
  throw std::runtime_error("the webhook receiver did not get " + what + " within " +
                           std::to_string(timeout.count()) + " ms; it got:\n" + describe());
}

std::string webhook_receiver::describe() const {
  std::string out;
  for (const auto& r : received()) {
    out += common::format_rfc3339(r.at) + " " + r.path + " " + r.id + " " + r.type + " -> " +
           (r.answer < 0 ? std::string("hang") : std::to_string(r.answer)) + " verified:";
    for (bool b : r.verified) out += b ? " yes" : " NO";
    out += "\n";
  }
  return out.empty() ? "(nothing)\n" : out;
}

log_on_failure::~log_on_failure() {
  if (std::uncaught_exceptions() <= exceptions_) return;
  try {
    auto text = log_();
    std::size_t start = text.size();
    for (std::size_t n = 0; n <= lines_ && start > 0; ++n) start = text.rfind('\n', start - 1);
    std::fprintf(stderr, "--- the last %zu lines of aponod's log ---\n%s\n", lines_,
                 text.substr(start == std::string::npos ? 0 : start).c_str());
  } catch (const std::exception&) {
  }
}

}  // namespace apono::test
