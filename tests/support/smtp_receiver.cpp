// The server's JSON lines, read back from its log.
#include "tests/support/smtp_receiver.hpp"

#include <boost/json.hpp>

#include <sstream>
#include <stdexcept>

#include "common/secrets.hpp"

namespace apono::test {

namespace json = boost::json;

std::string received_mail::header(const std::string& name) const {
  const auto& h = parsed.at("headers").as_object();
  auto* v = h.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string received_mail::part(const std::string& content_type) const {
  for (const auto& p : parsed.at("parts").as_array())
    if (p.at("content_type") == content_type.c_str() && p.at("text").is_string())
      return std::string(p.at("text").as_string());
  return {};
}

smtp_receiver::smtp_receiver(json::object config) {
  config["dir"] = dir_.path.string();
  proc_ = std::make_unique<child_process>(
      std::vector<std::string>{
          // Debian's interpreter: python3-aiosmtpd is installed for it (scripts/bootstrap).
          "/usr/bin/python3",
          (std::filesystem::path(APONO_SOURCE_DIR) / "tests/support/smtp_receiver.py").string()},
      dir_.path / "events.jsonl",
      std::map<std::string, std::string>{{"SMTP_CONFIG", json::serialize(config)},
                                         {"PYTHONUNBUFFERED", "1"}});
  const bool up = wait_until(
      [&] {
        if (!proc_->running()) throw std::runtime_error("smtp receiver exited:\n" + describe());
        for (const auto& e : events())
          if (auto* p = e.if_contains("listening")) {
            port_ = static_cast<int>(p->to_number<std::int64_t>());
            return true;
          }
        return false;
      },
      std::chrono::seconds{30});
  if (!up) throw std::runtime_error("smtp receiver did not listen within 30 s:\n" + describe());
}

smtp_receiver::~smtp_receiver() = default;

std::vector<json::object> smtp_receiver::events() const {
  std::vector<json::object> out;
  std::istringstream lines(common::read_file(dir_.path / "events.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(std::move(v.as_object()));
  }
  return out;
}

std::vector<received_mail> smtp_receiver::mails() const {
  std::vector<received_mail> out;
  for (const auto& e : events()) {
    if (e.if_contains("event") == nullptr || e.at("event") != "message") continue;
    received_mail m;
    m.mail_from = std::string(e.at("mail_from").as_string());
    for (const auto& t : e.at("rcpt_tos").as_array()) m.to.emplace_back(t.as_string());
    m.tls = e.at("tls").as_bool();
    m.auth = e.at("auth").is_string() ? std::string(e.at("auth").as_string()) : std::string();
    m.raw = common::read_file(std::string(e.at("file").as_string()));
    m.parsed = e.at("parsed").as_object();
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<received_mail> smtp_receiver::wait_for(
    const std::string& what, const std::function<bool(const std::vector<received_mail>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::vector<received_mail> seen;
  if (wait_until(
          [&] {
            seen = mails();
            return done(seen);
          },
          timeout))
    return seen;
  throw std::runtime_error("the SMTP server did not get " + what + " within " +
                           std::to_string(timeout.count()) + " ms; it saw:\n" + describe());
}

std::string smtp_receiver::describe() const {
  std::string out;
  std::istringstream lines(common::read_file(dir_.path / "events.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    // A message line holds the whole parsed mail: its first part says enough.
    out += line.substr(0, 300) + (line.size() > 300 ? "...\n" : "\n");
  }
  return out.empty() ? "(nothing)\n" : out;
}

void make_loopback_certificate(const std::filesystem::path& dir) {
  auto r =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", (dir / "key.pem").string(), "-out", (dir / "cert.pem").string(),
           "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  if (r.status != 0) throw std::runtime_error("openssl req failed:\n" + r.output);
}

}  // namespace apono::test
