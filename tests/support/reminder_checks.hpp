// What the reminder tests with a real aponod check in what a webhook receiver got: the
// deliveries about one request (once per webhook-id, in arrival order), their types, the audit
// trail's notices, and that a request's reminders came in order, numbered 1..N, between the
// events before and after them.
#pragma once

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace apono::test::reminders {

using strings = std::vector<std::string>;

inline std::string id_of(const api_answer& a) {
  return std::string(a.json.at("id").as_string());
}

// The deliveries about request `id`, once per webhook-id, in arrival order.
inline std::vector<received_webhook> about(const std::vector<received_webhook>& got,
                                           const std::string& id) {
  std::vector<received_webhook> out;
  strings ids;
  for (const auto& r : got) {
    if (!r.json.is_object()) continue;
    const auto* rid = r.json.at("data").as_object().if_contains("request_id");
    if (!rid || !rid->is_string() || rid->as_string() != id.c_str()) continue;
    if (std::find(ids.begin(), ids.end(), r.id) != ids.end()) continue;
    ids.push_back(r.id);
    out.push_back(r);
  }
  return out;
}

inline strings types(const std::vector<received_webhook>& got, const std::string& id) {
  strings out;
  for (const auto& r : about(got, id)) out.push_back(r.type);
  return out;
}

inline std::size_t count_of(const std::vector<received_webhook>& got, const std::string& id,
                            const std::string& type) {
  auto t = types(got, id);
  return static_cast<std::size_t>(std::count(t.begin(), t.end(), type));
}

// The audit events `action` of request `id`, as the audit API gives them to an admin.
inline std::vector<boost::json::object> audited(broker_fixture& b, const std::string& id,
                                                const std::string& action) {
  auto a = b.call("admin", "GET", "/api/v1/audit?limit=1000&request=" + id);
  REQUIRE(a.status == 200);
  std::vector<boost::json::object> out;
  for (const auto& ev : a.json.as_array())
    if (ev.at("action") == action.c_str()) out.push_back(ev.as_object());
  return out;
}

// `first` of `id`'s events, then `reminders` request.reminder numbered 1..N, then `rest`.
inline void check_reminded(const std::vector<received_webhook>& got, const std::string& id,
                           const strings& first, const strings& rest, std::size_t& reminders) {
  auto seen = about(got, id);
  std::string shown;
  for (const auto& r : seen)
    shown += "  " + r.type + " " + boost::json::serialize(r.json.at("data")) + "\n";
  INFO(id << ":\n" << shown);
  reminders = count_of(got, id, "request.reminder");
  strings expected = first;
  for (std::size_t i = 0; i < reminders; ++i) expected.emplace_back("request.reminder");
  expected.insert(expected.end(), rest.begin(), rest.end());
  CHECK(types(got, id) == expected);
  std::int64_t n = 0;
  for (const auto& r : seen) {
    if (r.type != "request.reminder") continue;
    const auto& data = r.json.at("data").as_object();
    ++n;
    CHECK(data.at("reminder") == n);
    CHECK(data.at("status") == "PENDING");
    CHECK(data.at("actor") == "system");
    CHECK(data.at("approvers") == boost::json::array{"approver"});
    CHECK(data.at("commands").at("approve") == ("apono approve " + id).c_str());
    CHECK(data.at("pending_since").is_string());
    CHECK(r.verified == std::vector<bool>{true});
  }
}

}  // namespace apono::test::reminders
