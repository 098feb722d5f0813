// The revoke watch: a thread in a loop of long-polls. The broker answers as soon as the request
// changes, so a revoke reaches the proxy within a round trip. The thread is joined, not
// detached: a detached one could still be inside OpenSSL while exit() tears it down.
#include "proxy/revoke_watch.hpp"

#include <boost/json.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/http_client.hpp"

namespace apono::proxy {

namespace json = boost::json;
using namespace std::chrono_literals;

struct revoke_watch::shared {
  explicit shared(const broker_endpoint& broker)
      : client({broker.url, broker.ca_file, broker.token, 35s}) {}
  common::http_client client;  // used by the poller only; cancel() comes from the owner
  std::mutex mutex;
  std::condition_variable wake;
  grant_watch* watch = nullptr;  // null once the owner is gone
  bool stopped = false;
};

namespace {

// Returns the cause when this event ends our grant, else none.
end_cause classify(const json::value& ev, const std::string& request_id) {
  const auto* o = ev.if_object();
  if (!o) return end_cause::none;
  auto id = o->if_contains("request_id");
  auto st = o->if_contains("status");
  if (!id || !st || !id->is_string() || !st->is_string() || id->get_string() != request_id)
    return end_cause::none;
  std::string_view status = st->get_string();
  if (status == "ACTIVE" || status == "APPROVED" || status == "PENDING") return end_cause::none;
  auto action = o->if_contains("action");
  bool expiring = status == "EXPIRED" ||
                  (action && action->is_string() && action->get_string() == "request.expiring");
  return expiring ? end_cause::expired : end_cause::revoked;
}

void poll_loop(const std::shared_ptr<revoke_watch::shared>& sh, std::int64_t after,
               const std::string& request_id) {
  auto backoff = 500ms;
  for (;;) {
    {
      std::lock_guard lock(sh->mutex);
      if (sh->stopped) return;
    }
    end_cause cause = end_cause::none;
    bool ok = false;
    try {
      auto res = sh->client.request(
          "GET", "/api/v1/events?after=" + std::to_string(after) + "&timeout=25", {}, 35s);
      if (res.status == 200) {
        auto v = json::parse(res.body);
        for (const auto& ev : v.at("events").as_array())
          if (auto c = classify(ev, request_id); c != end_cause::none) cause = c;
        if (auto n = v.at("next_after").if_int64()) after = *n;
        ok = true;
      }
    } catch (const std::exception&) {
      // The broker may be restarting (or the owner cancelled); the local deadline still
      // holds meanwhile.
    }
    std::unique_lock lock(sh->mutex);
    if (sh->stopped) return;
    if (cause != end_cause::none && sh->watch) {
      // Under the lock, so the owner cannot destroy the watch meanwhile; end() only posts
      // work elsewhere and never comes back here.
      sh->watch->end(cause);
      return;
    }
    if (ok) {
      backoff = 500ms;
      continue;
    }
    sh->wake.wait_for(lock, backoff, [&] { return sh->stopped; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 10s);
  }
}

}  // namespace

revoke_watch::revoke_watch(broker_endpoint broker, std::int64_t after, grant_watch& watch)
    : shared_(std::make_shared<shared>(broker)) {
  shared_->watch = &watch;
  thread_ = std::thread(poll_loop, shared_, after, watch.request_id());
}

revoke_watch::~revoke_watch() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopped = true;
    shared_->watch = nullptr;
    shared_->wake.notify_all();
  }
  shared_->client.cancel();
  thread_.join();
}

}  // namespace apono::proxy
