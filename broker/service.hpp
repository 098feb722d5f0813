// The request lifecycle: every operation the API and the scheduler perform on access
// requests. Each transition is one store transaction with its audit event; target-side work
// (provisioning) happens outside transactions, with its inputs persisted first so that a
// crash at any point leaves work the scheduler can finish.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/config_holder.hpp"
#include "broker/metrics.hpp"
#include "broker/provision/provisioner.hpp"
#include "broker/ssh/user_ca.hpp"
#include "broker/store/store.hpp"
#include "common/model.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// Who is calling.
struct caller {
  std::string user;    ///< user name from the config
  bool admin = false;  ///< admin flag from the config
  /// Where the call came from when not the API, written into the audit details of what it
  /// does (`{"via": "slack", "slack_user": "U012AB3CD"}`); empty for API calls.
  std::map<std::string, std::string> via{};
};

/// A request to create, as the API received it.
struct create_input {
  std::string integration;                       ///< id or name; empty with a bundle
  std::string resource_type;                     ///< optional; must match when given
  std::vector<std::string> resources;            ///< resource names
  std::vector<std::string> permissions;          ///< permission names
  std::string bundle;                            ///< bundle name instead of the above
  std::optional<std::chrono::seconds> duration;  ///< none = the flow's default
  std::string justification;                     ///< why
  bool dry_run = false;                          ///< validate only
};

/// Units of a selection that one access flow governs, in the shape of one request: every
/// resource with every permission.
struct plan_group {
  std::string flow;                      ///< the access flow a request for them gets
  bool automatic = false;                ///< approved automatically
  std::vector<std::string> approvers;    ///< who may approve it (never the caller); none if auto
  std::chrono::seconds max_duration{0};  ///< the flow's longest grant
  std::chrono::seconds duration{0};      ///< what the request gets: the one asked, or the default
  bool justification_required = false;   ///< the flow refuses a request without one
  std::string integration;               ///< integration id
  std::string resource_type;             ///< its resource type
  std::vector<std::string> resources;    ///< resource names
  std::vector<std::string> permissions;  ///< permission names
};

/// A unit of a selection that no flow lets the caller request as asked.
struct plan_refusal {
  std::string integration;  ///< integration id
  std::string resource;     ///< resource name
  std::string permission;   ///< permission name
  std::string reason;       ///< why, as a create would say it
};

/// How a selection splits by access flow (service::plan).
struct request_plan {
  std::vector<plan_group> groups;     ///< in the order of the selection's first unit of each
  std::vector<plan_refusal> refused;  ///< units no flow allows as asked
};

/// What a client asks an SSH certificate for.
struct ssh_certificate_input {
  std::string public_key;  ///< the session's fresh key, `ssh-ed25519 BASE64 [comment]`
  std::string resource;    ///< the host; may be empty when the grant holds one ssh unit
  std::string permission;  ///< the login; may be empty when that choice is unambiguous
};

/// Which requests a listing shows.
enum class list_scope {
  mine,        ///< the caller's own
  approvable,  ///< PENDING requests the caller may approve
  all,         ///< everything the caller may see (admins: everything)
};

/// Which page of a listing.
struct page_query {
  std::size_t limit = 100;                 ///< at most this many (1..500)
  std::optional<std::int64_t> before_id;   ///< start below this request id (from next_before)
  std::vector<common::status> statuses{};  ///< only these; empty: all
};

/// One page of a listing.
struct request_page {
  std::vector<common::access_request> requests;  ///< newest first
  std::optional<std::int64_t> next_before;       ///< where the next page starts; none: last page
};

/// A status change as the event feed shows it.
struct status_event {
  std::int64_t id = 0;                        ///< feed position
  common::time_point at{};                    ///< when
  std::string request_id;                     ///< AR-xxxxx
  std::string status;                         ///< new request status
  std::string action;                         ///< what caused it
  std::optional<common::time_point> ends_at;  ///< the request's end when known
  std::string actor;                          ///< who caused it: a user, or `system`
};

/// Tunables of the lifecycle.
struct lifecycle_options {
  std::chrono::milliseconds pending_ttl{std::chrono::hours{24 * 7}};  ///< PENDING -> FAILED after
  int max_grant_attempts = 5;                                         ///< then the request fails
  std::chrono::milliseconds max_backoff{std::chrono::seconds{30}};    ///< retry delay cap
  std::chrono::seconds valid_until_margin{5};  ///< target-side expiry past the grant end
};

/// The lifecycle service. Thread-safe.
class service {
 public:
  /// `provisioners` maps integration type (`postgresql`) to its provisioner; `on_change` is
  /// called after each committed status change (wakes the scheduler and long-polls).
  service(store& st, config_holder& cfg, std::map<std::string, provisioner*> provisioners,
          const common::clock& clk, metrics& m, lifecycle_options options = {},
          std::function<void()> on_change = {});

  // API operations; throw common::api_error.
  /// Validates and (unless dry_run) stores a request; automatic flows go straight to GRANTING.
  common::access_request create(const caller& c, const create_input& in);
  /// How the units `in` names split into requests by access flow: each unit gets the flow a
  /// request for it alone would get (choose_flow), and units sharing a flow and an integration
  /// are grouped so that creating each group as one request gets that flow. Invalid input
  /// throws as create does; units no flow allows are listed as refused. Stores nothing.
  request_plan plan(const caller& c, const create_input& in);
  /// A request the caller may see.
  common::access_request get(const caller& c, std::int64_t id);
  /// Requests in `scope`, created in the last `days` days when given, newest first: one page.
  request_page list(const caller& c, list_scope scope, std::optional<int> days,
                    const page_query& page = {});
  /// PENDING -> GRANTING, by an approver of the flow other than the requester.
  common::access_request approve(const caller& c, std::int64_t id);
  /// PENDING -> REJECTED with a reason, by an approver other than the requester.
  common::access_request reject(const caller& c, std::int64_t id, const std::string& reason);
  /// Ends a grant early (requester, approver or admin); a PENDING request is withdrawn.
  common::access_request revoke(const caller& c, std::int64_t id, const std::string& reason);
  /// The credentials of an ACTIVE grant, to its requester only; audited.
  common::access_details access_details(const caller& c, std::int64_t id);
  /// Signs an OpenSSH user certificate for one ssh unit of an ACTIVE grant, to its requester
  /// only, valid from a minute ago until the grant end; audited (the audit id is the serial).
  common::ssh_certificate ssh_certificate(const caller& c, std::int64_t id,
                                          const ssh_certificate_input& in);
  /// Uses `ca` to sign SSH certificates (the broker sets it at start; null: none can be issued).
  void set_ssh_ca(const ssh::user_ca* ca) { ssh_ca_ = ca; }
  /// Rotates every unit's secret at the target and returns the new details.
  common::access_details reset_credentials(const caller& c, std::int64_t id);
  /// A new request with the same units (and duration unless given), by the same requester;
  /// with `dry_run`, only checked like create's dry run (nothing is stored).
  common::access_request request_again(const caller& c, std::int64_t id,
                                       const std::string& justification,
                                       std::optional<std::chrono::seconds> duration,
                                       bool dry_run = false);
  /// Status changes after feed position `after` that the caller may see; `next_after` is the
  /// position to continue from (it moves past events the caller may not see).
  std::vector<status_event> events_after(const caller& c, std::int64_t after,
                                         std::int64_t& next_after);
  /// The feed position now: a client starting here sees every later change and no earlier one.
  std::int64_t feed_position();
  /// Request `id`'s status changes, oldest first, for whoever may see the request (its
  /// timeline without the audit log, which is for admins).
  std::vector<status_event> request_events(const caller& c, std::int64_t id);
  /// Audit events (admins only).
  std::vector<audit_event> audit(const caller& c, std::int64_t after,
                                 std::optional<std::int64_t> request_id, std::size_t limit);

  // Scheduler steps; never throw for target failures (they are recorded and retried).
  /// Creates the unit's credentials at the target if it is GRANTING.
  void grant_unit(std::int64_t unit_id);
  /// Removes the unit's credentials at the target if it is REVOKING.
  void revoke_unit(std::int64_t unit_id);
  /// ACTIVE past its end -> REVOKING (end reason `expired`).
  void expire_request(std::int64_t request_id);
  /// PENDING for longer than the TTL -> FAILED.
  void fail_stale_request(std::int64_t request_id);

  /// The options in force.
  [[nodiscard]] const lifecycle_options& options() const { return options_; }

 private:
  std::vector<common::access_unit> units_of(const config& cfg, const caller& c,
                                            const create_input& in,
                                            common::access_request& r) const;
  bool can_see(const config& cfg, const caller& c, const common::access_request& r) const;
  bool is_flow_approver(const config& cfg, const caller& c, const common::access_request& r) const;
  provisioner& provisioner_for(const integration_config& integ) const;
  provision_unit make_unit(const config& cfg, const common::access_request& r,
                           const common::access_unit& u, const unit_state& s) const;
  common::access_request load_visible(store_tx& tx, const config& cfg, const caller& c,
                                      std::int64_t id) const;
  std::int64_t record(store_tx& tx, const std::string& actor, const std::string& action,
                      const common::access_request& r, bool status_change,
                      const std::string& detail = {});
  void finish_if_revoked(store_tx& tx, common::access_request& r);
  /// `det` (a JSON object or empty) with the caller's `via` fields added.
  static std::string with_via(const caller& c, const std::string& det);
  void changed() const;
  std::chrono::milliseconds backoff(std::chrono::milliseconds first, int attempts) const;

  store& store_;
  config_holder& config_;
  std::map<std::string, provisioner*> provisioners_;
  const common::clock& clock_;
  metrics& metrics_;
  lifecycle_options options_;
  std::function<void()> on_change_;
  const ssh::user_ca* ssh_ca_ = nullptr;
};

}  // namespace apono::broker
