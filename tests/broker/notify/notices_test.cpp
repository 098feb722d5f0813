// The reminders and expiring-soon notices on a real SQLite store with a manual clock, driven
// through the dispatcher as aponod drives them, with the real lifecycle service deciding the
// requests: the approvers are reminded N times and never after the decision; a grant is told
// once that it ends soon, never when it ended or was revoked first; and finished deliveries
// past the retention are deleted in batches.
#include "broker/notify/notices.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "broker/notify/dispatcher.hpp"
#include "broker/service.hpp"
#include "broker/store/sqlite_store.hpp"
#include "common/secrets.hpp"
#include "tests/support/notify_rig.hpp"
#include "tests/support/process.hpp"

using namespace apono;
using namespace apono::broker;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string secret = "whsec_" + common::base64(std::string(32, 's'));

std::string config_yaml(const std::string& timers) {
  return test::notify_config_yaml(timers + R"(
  webhooks:
    - name: requests
      url: http://127.0.0.1:9/requests
      secrets: [)" + secret + R"(]
      events: ["request.*"]
)");
}

const std::string both = "  reminders: {interval: 10m}\n  expiring_soon: {before: 15m}";

struct rig {
  explicit rig(const std::string& timers = both)
      : holder(parse_config(config_yaml(timers), "test.yaml")),
        st(dir.path / "apono.db"),
        svc(st, holder, {}, clock, stats),
        d(st, holder, clock, stats, {{"webhook", &channel}}) {}

  std::int64_t request() {
    create_input in;
    in.integration = "pg";
    in.resources = {"appdb"};
    in.permissions = {"read_write"};
    in.justification = "INC-7";
    return svc.create({"alice", false}, in).id;
  }
  // An Active grant from now, of `length` (the lifecycle's grant steps need a target; the
  // notices only read the request).
  std::int64_t grant(std::chrono::milliseconds length) {
    common::access_request r;
    r.requester = "alice";
    r.integration = "pg";
    r.resource_type = "database";
    r.duration = std::chrono::duration_cast<std::chrono::seconds>(length);
    r.justification = "INC-8";
    r.state = common::status::active;
    r.flow = "write";
    r.created_at = r.updated_at = clock.now();
    r.active_from = clock.now();
    r.ends_at = clock.now() + length;
    r.units.push_back({0, "pg", "database", "appdb", "read_write", common::status::active, {}});
    st.transact([&](store_tx& tx) { tx.insert_request(r); });
    return r.id;
  }
  // The bodies of `type` delivered about `id`, in order.
  std::vector<json::object> seen(const std::string& type, std::int64_t id) {
    std::vector<json::object> out;
    for (const auto& s : channel.seen)
      if (s.event_type == type && s.request_id == id)
        out.push_back(json::parse(s.payload).at("data").as_object());
    return out;
  }
  std::vector<std::string> types(std::int64_t id) {
    std::vector<std::string> out;
    for (const auto& s : channel.seen)
      if (s.request_id == id) out.push_back(s.event_type);
    return out;
  }
  std::vector<audit_event> audit(std::int64_t id, const std::string& action) {
    std::vector<audit_event> out;
    for (auto& ev : st.audit_after(0, id, false, 1000))
      if (ev.action == action) out.push_back(ev);
    return out;
  }
  // Moves the clock and does what aponod would do by then.
  void after(std::chrono::milliseconds d_) {
    clock.advance(d_);
    d.run_once();
  }

  test::temp_dir dir{"notices-test"};
  config_holder holder;
  common::manual_clock clock{common::from_unix_ms(1'800'000'000'000)};
  metrics stats;
  test::recording_channel channel;
  sqlite_store st;
  service svc;
  notify::dispatcher d;
};

}  // namespace

TEST_CASE("the approvers are reminded every interval, N times, and never after the approval") {
  rig r;
  const auto created = r.clock.now();
  const auto id = r.request();
  const auto rid = common::format_request_id(id);
  r.d.run_once();
  CHECK(r.types(id) == std::vector<std::string>{"request.created", "request.pending_approval"});

  for (int n = 1; n <= 3; ++n) {
    r.after(10min - 1ms);
    INFO("reminder " << n);
    CHECK(r.seen("request.reminder", id).size() == static_cast<std::size_t>(n - 1));
    r.after(1ms);
    auto reminders = r.seen("request.reminder", id);
    REQUIRE(reminders.size() == static_cast<std::size_t>(n));
    const auto& data = reminders.back();
    CHECK(data.at("reminder") == n);
    CHECK(data.at("status") == "PENDING");
    CHECK(data.at("actor") == "system");
    CHECK(data.at("request_id") == rid.c_str());
    CHECK(data.at("pending_since") == common::format_rfc3339(created).c_str());
    CHECK(data.at("approvers") == json::array{"carol", "approver"});
    CHECK(data.at("commands").at("approve") == ("apono approve " + rid).c_str());
    CHECK(data.at("commands").at("reject") == ("apono reject " + rid + " --reason REASON").c_str());
  }
  r.after(5min);
  r.svc.approve({"carol", false}, id);
  r.d.run_once();
  for (int i = 0; i < 6; ++i) r.after(10min);
  CHECK(r.seen("request.reminder", id).size() == 3);
  CHECK(r.audit(id, "request.reminder").size() == 3);
  CHECK(r.types(id) == std::vector<std::string>{"request.created", "request.pending_approval",
                                                "request.reminder", "request.reminder",
                                                "request.reminder", "request.approved"});
}

TEST_CASE("no reminder after a rejection, a withdrawal or the pending timeout") {
  rig r;
  const auto rejected = r.request();
  const auto withdrawn = r.request();
  r.after(10min);
  CHECK(r.seen("request.reminder", rejected).size() == 1);
  CHECK(r.seen("request.reminder", withdrawn).size() == 1);
  r.svc.reject({"approver", false}, rejected, "not now");
  r.svc.revoke({"alice", false}, withdrawn, "not needed");
  for (int i = 0; i < 5; ++i) r.after(10min);
  CHECK(r.audit(rejected, "request.reminder").size() == 1);
  CHECK(r.audit(withdrawn, "request.reminder").size() == 1);
  CHECK(r.types(rejected).back() == "request.rejected");
  CHECK(r.types(withdrawn).back() == "request.revoked");
}

TEST_CASE("a broker that was down sends one reminder when it is back, not the ones it missed") {
  rig r;
  const auto id = r.request();
  r.after(35min);  // three reminders were due while nobody looked
  CHECK(r.audit(id, "request.reminder").size() == 1);
  r.after(10min - 1ms);
  CHECK(r.audit(id, "request.reminder").size() == 1);
  r.after(1ms);
  auto reminders = r.seen("request.reminder", id);
  REQUIRE(reminders.size() == 2);
  CHECK(reminders[1].at("reminder") == 2);
}

TEST_CASE("without the settings there are no reminders nor expiring-soon notices") {
  rig r("  retry: {initial: 1s}");
  const auto id = r.request();
  const auto g = r.grant(1h);
  for (int i = 0; i < 7; ++i) r.after(10min);
  CHECK(r.audit(id, "request.reminder").empty());
  CHECK(r.audit(g, "request.expiring_soon").empty());
  rig off("  reminders: {interval: 0}\n  expiring_soon: {before: 0s}");
  const auto id2 = off.request();
  off.after(1h);
  CHECK(off.audit(id2, "request.reminder").empty());
}

TEST_CASE("an Active grant is told once that it ends soon, with when and what to do") {
  rig r;
  const auto id = r.grant(1h);
  const auto rid = common::format_request_id(id);
  const auto ends = r.clock.now() + 1h;
  r.after(45min - 1ms);
  CHECK(r.seen("request.expiring_soon", id).empty());
  r.after(1ms);
  auto notices = r.seen("request.expiring_soon", id);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].at("status") == "ACTIVE");
  CHECK(notices[0].at("ends_at") == common::format_rfc3339(ends).c_str());
  CHECK(notices[0].at("minutes_left") == 15);
  CHECK(notices[0].at("commands").at("connect") == ("apono access connect " + rid).c_str());
  CHECK(notices[0].at("commands").at("request_again") ==
        ("apono requests again " + rid + " -j JUSTIFICATION").c_str());
  for (int i = 0; i < 14; ++i) r.after(1min);
  CHECK(r.audit(id, "request.expiring_soon").size() == 1);

  SECTION("a new end time (an extended grant) is told again, once") {
    r.st.transact([&](store_tx& tx) {
      auto q = *tx.get_request(id);
      q.ends_at = *q.ends_at + 30min;
      tx.update_request(q);
    });
    r.after(15min);  // the new end less 15 minutes is a minute away
    CHECK(r.audit(id, "request.expiring_soon").size() == 1);
    r.after(1min);
    r.after(1min);
    auto both_ = r.seen("request.expiring_soon", id);
    REQUIRE(both_.size() == 2);
    CHECK(both_[1].at("ends_at") == common::format_rfc3339(ends + 30min).c_str());
  }
}

TEST_CASE("no expiring-soon notice for a grant revoked first, ended, or shorter than the notice") {
  rig r;
  const auto revoked = r.grant(1h);
  const auto short_one = r.grant(10min);
  r.after(30min);
  r.svc.revoke({"alice", false}, revoked, "done early");
  r.after(20min);
  for (int i = 0; i < 10; ++i) r.after(1min);
  CHECK(r.audit(revoked, "request.expiring_soon").empty());
  CHECK(r.audit(short_one, "request.expiring_soon").empty());

  // A broker down over the whole window finds the grant ended: the expiry's, not a notice.
  const auto missed = r.grant(1h);
  r.clock.advance(1h);
  r.d.run_once();
  CHECK(r.audit(missed, "request.expiring_soon").empty());
}

TEST_CASE("finished deliveries past the retention are deleted in batches, pending ones kept") {
  rig r("  retention: 2h");
  for (int i = 0; i < 5; ++i) r.request();  // created and pending_approval, each delivered
  r.d.run_once();
  r.channel.seen.clear();
  r.request();
  r.d.fan_out();  // its two deliveries made, not yet attempted
  auto count = [&](const std::string& status) {
    std::vector<delivery> all;
    delivery_filter f;
    f.limit = 500;
    r.st.read([&](store_tx& tx) { all = tx.list_deliveries(f); });
    return std::count_if(all.begin(), all.end(),
                         [&](const delivery& d) { return status.empty() || d.status == status; });
  };
  REQUIRE(count("delivered") == 10);
  REQUIRE(count("pending") == 2);
  r.clock.advance(2h + 1ms);
  r.request();
  r.d.fan_out();
  CHECK(r.d.prune(3, 100) == 10);  // four batches: 3, 3, 3, 1
  CHECK(count("") == 4);           // the last two requests' pending deliveries
  r.d.run_once();
  CHECK(count("delivered") == 4);
  CHECK(r.d.prune(3, 100) == 0);  // attempted just now (two were due 2 h ago): kept
}
