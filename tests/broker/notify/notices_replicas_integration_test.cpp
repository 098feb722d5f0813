// The notice timer of two replicas on one real PostgreSQL store, run at the same instants on two
// threads with one manual clock: each reminder and each expiring-soon notice is written once,
// numbered without a gap, delivered once; and a reminder racing an approval is never written
// after it.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "broker/notify/dispatcher.hpp"
#include "broker/notify/notices.hpp"
#include "broker/service.hpp"
#include "broker/store/postgres_store.hpp"
#include "common/secrets.hpp"
#include "tests/support/notify_rig.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono;
using namespace apono::broker;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string config_yaml() {
  const std::string secret = "whsec_" + common::base64(std::string(32, 'r'));
  return test::notify_config_yaml(R"(  reminders: {interval: 10m}
  expiring_soon: {before: 15m}
  webhooks:
    - name: requests
      url: http://127.0.0.1:9/requests
      secrets: [)" + secret + R"(]
      events: ["request.reminder", "request.expiring_soon"]
)");
}

struct replica {
  replica(const std::string& url, config_holder& holder, const common::clock& clock)
      : st(postgres_store_options{url, 4}),
        svc(st, holder, {}, clock, stats),
        d(st, holder, clock, stats, {{"webhook", &channel}}) {}
  postgres_store st;
  metrics stats;
  test::recording_channel channel;
  service svc;
  notify::dispatcher d;
};

// Both replicas' timers and deliveries at the same instant, each on its own thread.
void run_both(replica& a, replica& b) {
  std::thread ta([&] { a.d.run_once(); });
  std::thread tb([&] { b.d.run_once(); });
  ta.join();
  tb.join();
}

// The notices `action` per request, from the audit trail.
std::map<std::int64_t, std::vector<audit_event>> audited(store& st, const std::string& action) {
  std::map<std::int64_t, std::vector<audit_event>> out;
  for (auto& ev : st.audit_after(0, std::nullopt, false, 100000))
    if (ev.action == action) out[ev.request_id].push_back(ev);
  return out;
}

}  // namespace

TEST_CASE(
    "two replicas write each reminder and expiring-soon notice once, never after a decision") {
  test::pg_fixture pg;
  pg.psql("CREATE DATABASE apono");
  config_holder holder(parse_config(config_yaml(), "test.yaml"));
  common::manual_clock clock{common::from_unix_ms(1'800'000'000'000)};
  replica a(pg.admin_url("apono"), holder, clock), b(pg.admin_url("apono"), holder, clock);

  std::vector<std::int64_t> pending, grants;
  for (int i = 0; i < 12; ++i) {
    create_input in;
    in.integration = "pg";
    in.resources = {"appdb"};
    in.permissions = {"read_write"};
    in.justification = "INC-" + std::to_string(i);
    pending.push_back(a.svc.create({"alice", false}, in).id);
  }
  for (int i = 0; i < 12; ++i) {
    common::access_request r;
    r.requester = "alice";
    r.integration = "pg";
    r.resource_type = "database";
    r.duration = 1h;
    r.justification = "INC-G";
    r.state = common::status::active;
    r.flow = "write";
    r.created_at = r.updated_at = clock.now();
    r.active_from = clock.now();
    r.ends_at = clock.now() + 1h + std::chrono::minutes{i};
    r.units.push_back({0, "pg", "database", "appdb", "read_write", common::status::active, {}});
    b.st.transact([&](store_tx& tx) { tx.insert_request(r); });
    grants.push_back(r.id);
  }

  for (int n = 1; n <= 3; ++n) {
    clock.advance(10min);
    run_both(a, b);
    auto reminders = audited(a.st, "request.reminder");
    for (auto id : pending) {
      INFO("request " << id << " after interval " << n);
      REQUIRE(reminders[id].size() == static_cast<std::size_t>(n));
      for (int k = 0; k < n; ++k) CHECK(notify::reminder_number(reminders[id][k]) == k + 1);
    }
  }

  // The fourth reminders fall due as the approver decides half of the requests.
  clock.advance(10min);
  std::map<std::int64_t, std::int64_t> approved_at;  // request -> audit id of its approval
  {
    std::thread approver([&] {
      for (std::size_t i = 0; i < pending.size(); i += 2)
        a.svc.approve({"approver", false}, pending[i]);
    });
    run_both(a, b);
    approver.join();
  }
  for (auto& ev : a.st.audit_after(0, std::nullopt, false, 100000))
    if (ev.action == "request.approved") approved_at[ev.request_id] = ev.id;
  for (int i = 0; i < 3; ++i) {
    clock.advance(10min);
    run_both(a, b);
  }
  auto reminders = audited(a.st, "request.reminder");
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const auto id = pending[i];
    INFO("request " << id);
    if (i % 2 == 0) {
      REQUIRE(approved_at.contains(id));
      // Three or four reminders, as the race went, all before the approval.
      CHECK(reminders[id].size() >= 3);
      CHECK(reminders[id].size() <= 4);
      for (const auto& ev : reminders[id]) CHECK(ev.id < approved_at[id]);
    } else {
      CHECK(reminders[id].size() == 7);
    }
    for (std::size_t k = 0; k < reminders[id].size(); ++k)
      CHECK(notify::reminder_number(reminders[id][k]) == static_cast<std::int64_t>(k + 1));
  }

  // The grants (1 h to 1 h 11 min long, begun 70 minutes ago) fell due in the passes above:
  // each was told once, and none again as the last of them end.
  for (int i = 0; i < 12; ++i) {
    clock.advance(1min);
    run_both(a, b);
  }
  auto told = audited(a.st, "request.expiring_soon");
  for (auto id : grants) {
    INFO("grant " << id);
    CHECK(told[id].size() == 1);
  }

  // Every notice was delivered once, by one replica or the other (the minutes above made one
  // more reminder of each request still pending).
  reminders = audited(a.st, "request.reminder");
  std::map<std::string, int> ids;
  for (auto* r : {&a, &b})
    for (const auto& d : r->channel.seen) ++ids[d.webhook_id];
  std::size_t notices = 0;
  for (const auto& [id, events] : reminders) notices += events.size();
  notices += grants.size();
  CHECK(ids.size() == notices);
  for (const auto& [id, times] : ids) {
    INFO(id);
    CHECK(times == 1);
  }
  std::cout << "two replicas: " << notices << " notices written and delivered once each ("
            << a.channel.seen.size() << " by one, " << b.channel.seen.size() << " by the other)\n";
}
