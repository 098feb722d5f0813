// The dispatcher on a real SQLite store with a manual clock and a scripted channel: the fan-out
// (per filter, once, bodies fixed), the order per request, backoff and Retry-After, the maximum
// age, 410 Gone, and the admin operations beside it.
#include "broker/notify/dispatcher.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "broker/notify/admin.hpp"
#include "broker/notify/payload.hpp"
#include "broker/store/sqlite_store.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"
#include "tests/support/notify_rig.hpp"
#include "tests/support/process.hpp"

using namespace apono;
using namespace apono::broker;
using namespace std::chrono_literals;
namespace json = boost::json;
using outcome = notify::attempt_result::outcome;

namespace {

const std::string secret = "whsec_" + common::base64(std::string(32, 's'));

std::string config_yaml(
    const std::string& retry = "{initial: 1s, max: 8s, max_age: 1h, jitter: false}") {
  return test::notify_config_yaml("  retry: " + retry + R"(
  webhooks:
    - name: requests
      url: http://127.0.0.1:9/requests
      secrets: [)" + secret + R"(]
      events: ["request.*"]
    - name: siem
      url: http://127.0.0.1:9/siem
      secrets: [)" + secret + R"(]
      events: ["audit.request.*"]
)");
}

struct rig {
  explicit rig(const std::string& yaml = config_yaml())
      : holder(parse_config(yaml, "test.yaml")),
        st(dir.path / "apono.db"),
        d(st, holder, clock, stats, {{"webhook", &channel}}) {}

  // A request of alice's in the store and its creation in the audit trail.
  std::int64_t create(common::status s = common::status::pending) {
    common::access_request r;
    r.requester = "alice";
    r.integration = "pg";
    r.resource_type = "database";
    r.duration = 1h;
    r.justification = "INC-1";
    r.state = s;
    r.flow = "write";
    r.automatic = false;
    r.created_at = r.updated_at = clock.now();
    r.units.push_back({0, "pg", "database", "appdb", "read_write", s, {}});
    st.transact([&](store_tx& tx) {
      tx.insert_request(r);
      audit(tx, r.id, "alice", "request.created", std::string(common::to_string(s)));
    });
    return r.id;
  }
  std::int64_t event(std::int64_t request, const std::string& actor, const std::string& action,
                     const std::string& status, const std::string& detail = "{}") {
    std::int64_t id = 0;
    st.transact([&](store_tx& tx) { id = audit(tx, request, actor, action, status, detail); });
    return id;
  }
  std::int64_t audit(store_tx& tx, std::int64_t request, const std::string& actor,
                     const std::string& action, const std::string& status,
                     const std::string& detail = "{}") {
    audit_event ev;
    ev.at = clock.now();
    ev.actor = actor;
    ev.action = action;
    ev.request_id = request;
    ev.status = status;
    ev.detail = detail;
    return tx.append_audit(ev);
  }
  std::vector<delivery> deliveries(const std::string& endpoint = {}) {
    std::vector<delivery> out;
    delivery_filter f;
    if (!endpoint.empty()) f.endpoint = endpoint;
    f.limit = 500;
    st.read([&](store_tx& tx) { out = tx.list_deliveries(f); });
    std::reverse(out.begin(), out.end());  // oldest first
    return out;
  }
  std::vector<std::string> types_seen(const std::string& endpoint) {
    std::vector<std::string> out;
    for (const auto& s : channel.seen)
      if (s.endpoint == endpoint) out.push_back(s.event_type);
    return out;
  }

  test::temp_dir dir{"dispatcher-test"};
  config_holder holder;
  common::manual_clock clock{common::from_unix_ms(1'800'000'000'000)};
  metrics stats;
  test::recording_channel channel;
  sqlite_store st;
  notify::dispatcher d;
};

std::uint64_t counted(const metrics& m, delivery_outcome o) {
  return m.deliveries[0][static_cast<std::size_t>(o)].load();
}

}  // namespace

TEST_CASE("the fan-out makes one delivery per endpoint and event its filter selects, once") {
  rig r;
  auto id = r.create();
  r.event(id, "approver", "request.approved", "GRANTING");
  r.event(id, "system", "unit.granted", "");  // not a request.* nor audit.request.* event
  r.event(id, "system", "request.active", "ACTIVE", R"({"ends_at":"2027-01-15T09:00:00.000Z"})");
  CHECK(r.d.fan_out() == 7);
  CHECK(r.d.fan_out() == 0);  // nothing new: the cursor moved past them
  auto req = r.deliveries("requests");
  REQUIRE(req.size() == 4);
  CHECK(req[0].event_type == "request.created");
  CHECK(req[1].event_type == "request.pending_approval");
  CHECK(req[2].event_type == "request.approved");
  CHECK(req[3].event_type == "request.active");
  auto siem = r.deliveries("siem");
  REQUIRE(siem.size() == 3);
  CHECK(siem[0].event_type == "audit.request.created");
  CHECK(siem[2].event_type == "audit.request.active");
  for (const auto& d : req) {
    CHECK(d.status == "pending");
    CHECK(d.request_id == id);
    CHECK(d.webhook_id == notify::webhook_id(d.audit_id, "requests", d.event_type));
  }
  CHECK(req[0].webhook_id != req[1].webhook_id);  // one audit event, two events

  // The bodies, fixed at the fan-out.
  auto pending = json::parse(req[1].payload).as_object();
  CHECK(pending.at("type") == "request.pending_approval");
  CHECK(pending.at("version") == 1);
  const auto& data = pending.at("data").as_object();
  CHECK(data.at("request_id") == common::format_request_id(id).c_str());
  CHECK(data.at("status") == "PENDING");
  CHECK(data.at("requester") == "alice");
  // The flow's approvers but the requester.
  CHECK(data.at("approvers") == json::array{"carol", "approver"});
  CHECK(data.at("commands").at("approve") ==
        ("apono approve " + common::format_request_id(id)).c_str());
  auto active = json::parse(req[3].payload).at("data").as_object();
  CHECK(active.at("ends_at") == "2027-01-15T09:00:00.000Z");
  CHECK(active.at("commands").at("connect") ==
        ("apono access connect " + common::format_request_id(id)).c_str());
  auto audit = json::parse(siem[0].payload).as_object();
  CHECK(audit.at("type") == "audit.request.created");
  CHECK(audit.at("data").at("action") == "request.created");
  CHECK(audit.at("data").at("id") == siem[0].audit_id);

  r.d.run_once();
  CHECK(r.types_seen("requests") == std::vector<std::string>{"request.created",
                                                             "request.pending_approval",
                                                             "request.approved", "request.active"});
  for (const auto& d : r.deliveries()) {
    CHECK(d.status == "delivered");
    CHECK(d.attempts == 1);
    CHECK(d.last_http_status == 204);
    CHECK(d.delivered_at == r.clock.now());
  }
  CHECK(counted(r.stats, delivery_outcome::delivered) == 7);
}

TEST_CASE("a request's deliveries to an endpoint go in order; others do not wait") {
  rig r;
  auto first = r.create();
  auto second = r.create();
  r.event(first, "approver", "request.approved", "GRANTING");
  // The first request's first delivery fails: its later ones wait, the second request's go.
  bool fail = true;
  r.channel.answer = [&](const delivery& d) {
    if (fail && d.endpoint == "requests" && d.request_id == first)
      return notify::attempt_result{outcome::failed, 503, "the receiver answered HTTP 503", {}};
    return notify::attempt_result{outcome::delivered, 200, {}, {}};
  };
  r.d.run_once();
  std::vector<std::string> firsts;
  for (const auto& s : r.channel.seen)
    if (s.endpoint == "requests" && s.request_id == first) firsts.push_back(s.event_type);
  CHECK(firsts == std::vector<std::string>{"request.created"});
  std::size_t seconds = 0;
  for (const auto& s : r.channel.seen)
    if (s.endpoint == "requests" && s.request_id == second) ++seconds;
  CHECK(seconds == 2);  // created, pending_approval
  fail = false;
  r.clock.advance(1s);
  r.d.run_once();
  firsts.clear();
  for (const auto& s : r.channel.seen)
    if (s.endpoint == "requests" && s.request_id == first) firsts.push_back(s.event_type);
  CHECK(firsts == std::vector<std::string>{"request.created", "request.created",
                                           "request.pending_approval", "request.approved"});
}

TEST_CASE("failures back off, doubling to the cap; Retry-After is honoured; then dead") {
  rig r(config_yaml("{initial: 1s, max: 4s, max_age: 30s, jitter: false}"));
  r.create();
  std::optional<std::chrono::milliseconds> retry_after;
  r.channel.answer = [&](const delivery&) {
    return notify::attempt_result{outcome::failed, 500, "the receiver answered HTTP 500",
                                  retry_after};
  };
  const auto start = r.clock.now();
  auto next_of = [&] {
    for (const auto& d : r.deliveries("requests"))
      if (d.event_type == "request.created") return d;
    FAIL("no delivery");
    return delivery{};
  };
  r.d.run_once();
  CHECK(next_of().attempts == 1);
  CHECK(next_of().next_attempt_at == start + 1s);
  CHECK(next_of().last_error == "the receiver answered HTTP 500");
  CHECK(next_of().last_http_status == 500);
  r.clock.advance(999ms);
  r.d.run_once();
  CHECK(next_of().attempts == 1);  // not due yet
  r.clock.advance(1ms);
  r.d.run_once();
  CHECK(next_of().next_attempt_at == r.clock.now() + 2s);
  r.clock.advance(2s);
  r.d.run_once();
  CHECK(next_of().next_attempt_at == r.clock.now() + 4s);
  r.clock.advance(4s);
  r.d.run_once();
  CHECK(next_of().next_attempt_at == r.clock.now() + 4s);  // capped
  retry_after = 9s;
  r.clock.advance(4s);
  r.d.run_once();
  CHECK(next_of().attempts == 5);
  CHECK(next_of().next_attempt_at == r.clock.now() + 9s);  // longer than the backoff: honoured
  // The last try is at the maximum age (30 s), whatever was asked.
  retry_after = 60s;
  r.clock.advance(9s);
  r.d.run_once();
  CHECK(next_of().attempts == 6);
  CHECK(next_of().next_attempt_at == start + 30s);
  r.clock.set(start + 30s);
  r.d.run_once();
  CHECK(next_of().status == "dead");
  CHECK(next_of().attempts == 7);
  CHECK(next_of().last_error ==
        "the receiver answered HTTP 500 (gave up: no success within the maximum age)");
  CHECK(counted(r.stats, delivery_outcome::dead) >= 1);
  CHECK(counted(r.stats, delivery_outcome::retried) >= 6);
}

TEST_CASE("full jitter: each delay is uniform in [0, backoff]") {
  rig r(config_yaml("{initial: 1s, max: 10m, max_age: 1h, jitter: true}"));
  auto cfg = r.holder.get()->notifications;
  r.d.set_random([] { return 0.0; });
  CHECK(r.d.backoff(3, cfg) == 0ms);
  r.d.set_random([] { return 0.5; });
  CHECK(r.d.backoff(1, cfg) == 500ms);
  CHECK(r.d.backoff(3, cfg) == 2000ms);
  CHECK(r.d.backoff(40, cfg) == 300000ms);  // half of the 10-minute cap
  r.d.set_random([] { return 0.999999; });
  CHECK(r.d.backoff(2, cfg) <= 2000ms);
  cfg.jitter = false;
  CHECK(r.d.backoff(1, cfg) == 1000ms);
  CHECK(r.d.backoff(11, cfg) == 600000ms);
}

TEST_CASE("410 Gone disables the endpoint, ends what it had pending, and it gets nothing more") {
  rig r;
  auto id = r.create();
  r.channel.answer = [&](const delivery& d) {
    if (d.endpoint == "requests")
      return notify::attempt_result{outcome::gone, 410, "the receiver answered 410 Gone", {}};
    return notify::attempt_result{outcome::delivered, 200, {}, {}};
  };
  r.d.run_once();
  auto req = r.deliveries("requests");
  REQUIRE(req.size() == 2);
  CHECK(req[0].status == "dead");
  CHECK(req[0].last_error == "the receiver answered 410 Gone: endpoint disabled");
  CHECK(req[1].status == "dead");  // was waiting behind it
  CHECK(req[1].last_error.starts_with("endpoint disabled: the receiver answered 410 Gone to msg_"));
  CHECK(r.types_seen("requests").size() == 1);
  auto cfg = r.holder.get();
  auto eps = notify::list_endpoints(r.st, *cfg);
  REQUIRE(eps.size() == 2);
  CHECK(eps[0].name == "requests");
  CHECK(eps[0].disabled_at == r.clock.now());
  CHECK_FALSE(eps[1].disabled_at);
  CHECK(r.st.count_deliveries().endpoints_disabled == 1);
  // The audit trail says so (and the siem endpoint, filtering audit.request.*, does not get it).
  auto audit = r.st.audit_after(0, std::nullopt, false, 100);
  CHECK(audit.back().action == "notification.endpoint_disabled");

  // Later events: none for it; a test or a redelivery is refused while it is disabled.
  r.event(id, "approver", "request.approved", "GRANTING");
  r.d.run_once();
  CHECK(r.deliveries("requests").size() == 2);
  CHECK(r.deliveries("siem").size() == 2);
  CHECK_THROWS_AS(notify::send_test(r.st, *cfg, r.clock, "requests", "carol"), common::api_error);
  CHECK_THROWS_AS(notify::redeliver(r.st, *cfg, r.clock, req[0].id, "carol"), common::api_error);

  // Enabled again: events from then on, and what was dead can be sent again by hand.
  r.channel.answer = nullptr;
  auto view = notify::enable_endpoint(r.st, *cfg, r.clock, "requests", "carol");
  CHECK_FALSE(view.disabled_at);
  r.event(id, "system", "request.active", "ACTIVE");
  r.d.run_once();
  CHECK(r.types_seen("requests") == std::vector<std::string>{"request.created", "request.active"});
  auto again = notify::redeliver(r.st, *cfg, r.clock, req[1].id, "carol");
  CHECK(again.status == "pending");
  CHECK(again.attempts == 0);
  r.d.run_once();
  CHECK(r.channel.seen.back().webhook_id == req[1].webhook_id);  // the same idempotency key
  CHECK(r.deliveries("requests")[1].status == "delivered");
}

TEST_CASE("a test event goes to the endpoint named, whatever its filter; unknown ones are 404") {
  rig r;
  auto cfg = r.holder.get();
  auto d = notify::send_test(r.st, *cfg, r.clock, "siem", "carol");
  CHECK(d.event_type == "notification.test");
  CHECK(d.endpoint == "siem");
  auto body = json::parse(d.payload).as_object();
  CHECK(body.at("type") == "notification.test");
  CHECK(body.at("data").at("requested_by") == "carol");
  r.d.run_once();
  CHECK(r.types_seen("siem") == std::vector<std::string>{"notification.test"});
  CHECK(r.types_seen("requests").empty());
  try {
    (void)notify::send_test(r.st, *cfg, r.clock, "nope", "carol");
    FAIL("no error");
  } catch (const common::api_error& e) {
    CHECK(e.code() == common::errc::not_found);
  }
}

TEST_CASE("an endpoint removed from the config: its pending deliveries die at their attempt") {
  rig r;
  r.create();
  CHECK(r.d.fan_out() == 3);
  r.holder.set(
      parse_config(config_yaml().substr(0, config_yaml().find("    - name: siem")), "test.yaml"));
  // The scripted channel would deliver; the real one finds no endpoint. Play that part.
  r.channel.answer = [&](const delivery& d) {
    if (!r.holder.get()->notifications.find_webhook(d.endpoint))
      return notify::attempt_result{
          outcome::dropped, 0, "webhook 'siem' is no longer configured", {}};
    return notify::attempt_result{outcome::delivered, 200, {}, {}};
  };
  r.d.run_once();
  auto siem = r.deliveries("siem");
  REQUIRE(siem.size() == 1);
  CHECK(siem[0].status == "dead");
  CHECK(siem[0].last_error == "webhook 'siem' is no longer configured");
}
