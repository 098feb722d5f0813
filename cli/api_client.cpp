// Broker calls from the CLI.
#include "cli/api_client.hpp"

#include <boost/json.hpp>

#include "common/error.hpp"

namespace apono::cli {

namespace json = boost::json;

api_client::api_client(const profile& p)
    : http_(std::make_unique<common::http_client>(
          common::http_client_options{p.server, p.ca_file, p.token, std::chrono::seconds{30}})) {}

json::value api_client::handle(const common::http_result& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (r.status >= 200 && r.status < 300) {
    if (ec) throw std::runtime_error("the broker sent a response that is not JSON");
    return v;
  }
  std::string message = "the broker answered HTTP " + std::to_string(r.status);
  auto code = common::errc::internal;
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (auto* m = e->as_object().if_contains("message"); m && m->is_string())
        message = std::string(m->get_string());
      if (auto* c = e->as_object().if_contains("code"); c && c->is_string())
        code = common::code_from_name(c->get_string());
    }
  }
  if (r.status == 401) message += ": run `apono login`";
  throw common::api_error(code, message);
}

json::value api_client::get(const std::string& target) {
  return handle(http_->request("GET", target));
}

json::value api_client::get(const std::string& target, std::chrono::milliseconds timeout) {
  return handle(http_->request("GET", target, {}, timeout));
}

json::value api_client::get_all(const std::string& target) {
  json::array all;
  const std::string base =
      target + (target.find('?') == std::string::npos ? "?" : "&") + "limit=500";
  std::string next = base;
  // A broker that ignores paging answers everything at once and names no next page.
  for (int page = 0; page < 10000; ++page) {
    auto r = http_->request("GET", next);
    auto v = handle(r);
    if (!v.is_array()) return v;
    for (auto& item : v.as_array()) all.push_back(std::move(item));
    if (r.next_cursor.empty()) break;
    next = base + "&cursor=" + url_encode(r.next_cursor);
  }
  return all;
}

json::value api_client::post(const std::string& target, const json::value& body) {
  return handle(
      http_->request("POST", target, body.is_null() ? std::string("{}") : json::serialize(body)));
}

api_client connect(const global_options& g) {
  auto f = load_profiles();
  return api_client(resolve_profile(f, g.profile));
}

}  // namespace apono::cli
