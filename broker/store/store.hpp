// The broker's persistent state behind a small interface: requests with their units, unit
// secrets and retry state, the audit trail, the API tokens and one-time authorization codes of
// browser login, the web portal's browser sessions (only their SHA-256 hashes), and the
// notification deliveries the dispatcher relays from the audit trail (its outbox). All writes
// happen in a transaction, and every lifecycle transition writes its audit event in the same
// transaction.
//
// Two implementations: SQLite (one broker, the default) and PostgreSQL (any number of broker
// replicas on one database). What replicas need is part of the contract: rows read in a write
// transaction are locked until it ends, unit work is claimed so one process runs it, audit ids
// become visible in id order, and a change committed by one process wakes the others.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/model.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// One line of the audit trail. Rows with a non-empty `status` are also the event feed.
struct audit_event {
  std::int64_t id = 0;      ///< assigned by the store, increasing
  common::time_point at{};  ///< when it happened
  std::string actor;        ///< user name, or `system` for the scheduler
  std::string action;       ///< e.g. `request.created`, `unit.granted`, `access_details.fetched`
  std::int64_t request_id = 0;  ///< 0 when not about a request
  std::string status;           ///< the request's status after a transition; empty otherwise
  std::string detail;           ///< JSON object text; never holds a secret
};

/// Secret and retry state of a unit; kept apart from access_unit so listings never carry it.
struct unit_state {
  std::int64_t unit_id = 0;     ///< the unit
  std::int64_t request_id = 0;  ///< its request
  std::string login;            ///< the target login (role name); empty before first grant
  std::string secret;  ///< the target secret (sealed at rest by the store); wiped once revoked
  int attempts = 0;    ///< failed attempts of the current step
  common::time_point next_attempt_at{};  ///< when the scheduler may try again
  std::string last_error;                ///< last failure, safe to show
};

/// The store cannot be reached or is overloaded right now; the operation did not happen (or,
/// for a commit that lost its connection, may have): the API answers 503 with Retry-After.
class store_unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Filter for listing requests.
struct request_filter {
  std::optional<std::string> requester;             ///< only this user's
  std::optional<common::time_point> created_after;  ///< only newer ones
  std::vector<common::status> statuses;             ///< any of these; empty = all
  std::optional<std::int64_t> before_id;            ///< only ids below this (the next page)
  std::size_t limit = 1000;                         ///< at most this many, newest first
};

/// Work the scheduler finds due. Units come claimed for this process (see store::find_due).
struct due_work {
  std::vector<std::int64_t> units_to_grant;      ///< GRANTING units whose next attempt is due
  std::vector<std::int64_t> units_to_revoke;     ///< REVOKING units whose next attempt is due
  std::vector<std::int64_t> requests_to_expire;  ///< ACTIVE requests at or past ends_at
  std::vector<std::int64_t> requests_stale;      ///< PENDING requests created before the cutoff
};

/// A one-time authorization code of browser login (RFC 6749 §4.1 with PKCE, RFC 7636).
struct auth_code {
  std::string code_hash;            ///< SHA-256 hex of the code; the code itself is never stored
  std::string user;                 ///< who logged in
  std::string challenge;            ///< the S256 code_challenge the client sent
  std::string redirect_uri;         ///< where the code was sent; the exchange must name the same
  common::time_point expires_at{};  ///< unusable from this instant
};

/// An API token as stored (by its hash).
struct stored_token {
  std::string user;                 ///< who it was issued to
  common::time_point expires_at{};  ///< unusable from this instant
};

/// A browser session of the web portal as stored (by the SHA-256 of its secret).
struct browser_session {
  std::string user;                   ///< who signed in
  common::time_point created_at{};    ///< when
  common::time_point last_seen_at{};  ///< the last use recorded (see touch_browser_session)
  common::time_point expires_at{};    ///< the absolute end, however much it is used
};

/// Failed sign-ins counted against one subject (a user, or a source address) in one window.
struct login_window {
  int failures = 0;           ///< in the current window
  common::time_point ends{};  ///< when the current window ends (and the count with it)
};

/// One notification to one endpoint: made by the dispatcher's fan-out from an audit event (in
/// the same transaction that moves the notify cursor past it), then attempted until delivered or
/// dead. The payload is fixed when it is made, so every attempt sends the same bytes.
struct delivery {
  std::int64_t id = 0;                   ///< assigned by the store, increasing
  std::string endpoint;                  ///< the endpoint's configured name; `email:<user>`
                                         ///< for a channel with a delivery per recipient
  std::string channel;                   ///< `webhook`, `email` or `teams`
  std::int64_t audit_id = 0;             ///< the audit event it comes from
  std::int64_t request_id = 0;           ///< the request it is about; 0 when none
  std::string event_type;                ///< e.g. `request.approved`, `audit.auth.login`
  std::string webhook_id;                ///< the idempotency key, the same for every attempt
  std::string payload;                   ///< the body, as sent
  std::string status;                    ///< `pending`, `delivered` or `dead`
  int attempts = 0;                      ///< attempts since it was made (or redelivered)
  common::time_point next_attempt_at{};  ///< when a pending one is due
  common::time_point give_up_at{};       ///< after a failure past this instant it is dead
  std::string last_error{};              ///< why the last attempt failed; never holds a secret
  int last_http_status = 0;              ///< the last answer's status; 0 when none came
  common::time_point created_at{};       ///< when the fan-out made it
  std::optional<common::time_point> delivered_at{};  ///< when a 2xx came back
};

/// Filter for listing deliveries.
struct delivery_filter {
  std::optional<std::string> status;      ///< only this status
  std::optional<std::string> endpoint;    ///< only this endpoint's (`email` also takes every
                                          ///< `email:<user>`, its deliveries per recipient)
  std::optional<std::int64_t> before_id;  ///< only ids below this (the next page)
  std::size_t limit = 100;                ///< at most this many, newest first
};

/// What the store keeps about an endpoint beyond its config: whether it is disabled.
struct endpoint_state {
  std::string name;                               ///< the endpoint
  std::optional<common::time_point> disabled_at;  ///< when it was disabled; none: enabled
  std::string disabled_reason;                    ///< why (e.g. the receiver answered 410)
};

/// Figures for /metrics.
struct delivery_stats {
  std::int64_t pending = 0;                            ///< deliveries not yet delivered or dead
  std::optional<common::time_point> oldest_pending{};  ///< when the oldest of them was made
  std::int64_t endpoints_disabled = 0;                 ///< endpoints disabled now
};

/// A request a notice may be due for (notify::notices): a PENDING one (a reminder to its
/// approvers) or an ACTIVE one near its end (expiring soon), with the last notice of that kind.
struct notice_candidate {
  std::int64_t request_id = 0;                      ///< the request
  common::status state{};                           ///< PENDING or ACTIVE
  common::time_point created_at{};                  ///< when it was made
  std::optional<common::time_point> active_from{};  ///< ACTIVE: when the grant began
  std::optional<common::time_point> ends_at{};      ///< ACTIVE: the grant's end
  std::optional<audit_event> last{};                ///< its last `request.reminder` (PENDING) or
                                      ///< `request.expiring_soon` (ACTIVE) event, if any
};

/// A Slack message aponod posted, so later events can update it (chat.update) or reply in its
/// thread, and a retried delivery knows it was posted already.
struct slack_message_ref {
  std::string webhook_id;           ///< the delivery that posted it (unique)
  std::int64_t request_id = 0;      ///< the request it is about
  std::string user;                 ///< the apono user it was sent to
  std::string role;                 ///< `requester` or `approver` (a parent message), `reply`
  std::string channel;              ///< Slack's conversation id (`D...`)
  std::string ts;                   ///< Slack's message id in it
  common::time_point created_at{};  ///< when it was posted
};

/// Reads and writes inside one transaction. Valid only inside the callback of store::transact
/// or store::read (a read transaction must not write).
class store_tx {
 public:
  virtual ~store_tx() = default;
  /// The request with its units, or nullopt. In a write transaction the request is locked
  /// until the transaction ends (another one reading it waits), so a transition decided on
  /// what was read here cannot race the same transition elsewhere.
  [[nodiscard]] virtual std::optional<common::access_request> get_request(std::int64_t id) = 0;
  /// Like get_request in a write transaction, but nullopt at once when another transaction
  /// holds the request (it is someone else's step; skip it rather than queue behind it).
  [[nodiscard]] virtual std::optional<common::access_request> try_lock_request(std::int64_t id) = 0;
  /// Requests matching `f`, newest first, with their units (fetched for the page at once).
  [[nodiscard]] virtual std::vector<common::access_request> list_requests(
      const request_filter& f) = 0;
  /// Inserts `r` and its units; assigns r.id and each unit's id.
  virtual void insert_request(common::access_request& r) = 0;
  /// Writes the request's mutable fields and each unit's status and last_error.
  virtual void update_request(const common::access_request& r) = 0;
  /// Secret and retry state of a unit (default-constructed fields when never set).
  [[nodiscard]] virtual unit_state get_unit_state(std::int64_t unit_id) = 0;
  /// Writes a unit's secret and retry state.
  virtual void put_unit_state(const unit_state& s) = 0;
  /// Appends to the audit trail; returns the event's id.
  virtual std::int64_t append_audit(const audit_event& ev) = 0;

  /// Stores an API token issued to `user` by its SHA-256 hex `hash`, valid until
  /// `expires_at`; `description` says what it is for (e.g. `apono login`).
  virtual void insert_token(const std::string& hash, const std::string& user,
                            common::time_point now, const std::string& description,
                            common::time_point expires_at) = 0;
  /// Counts one failed sign-in against `subject` (`user:NAME`, `addr:IP`) in its current
  /// window, which starts anew once `window` has passed since it began; returns the count.
  virtual login_window add_login_failure(const std::string& subject, common::time_point now,
                                         std::chrono::milliseconds window) = 0;
  /// The failed sign-ins counted against `subject` in its current window (0 when it passed).
  [[nodiscard]] virtual login_window login_failures(const std::string& subject,
                                                    common::time_point now,
                                                    std::chrono::milliseconds window) = 0;
  /// Forgets the failed sign-ins of `subject` (after it signed in).
  virtual void clear_login_failures(const std::string& subject) = 0;
  /// Marks the token with SHA-256 hex `hash` revoked at `now`; true when it was a live token of
  /// the store (false when unknown or already revoked).
  virtual bool revoke_token(const std::string& hash, common::time_point now) = 0;
  /// Stores a new authorization code; also deletes the codes expired at `now`.
  virtual void insert_auth_code(const auth_code& code, common::time_point now) = 0;
  /// Marks the code with SHA-256 hex `code_hash` used and returns it, if it was unused and
  /// unexpired at `now`; nullopt otherwise. A code is returned at most once, ever, even when
  /// the caller then refuses the exchange (wrong verifier), so it cannot be guessed at.
  [[nodiscard]] virtual std::optional<auth_code> take_auth_code(const std::string& code_hash,
                                                                common::time_point now) = 0;
  /// Stores a browser session of `user` by the SHA-256 hex `hash` of its secret, created and
  /// seen at `now`, ending at `expires_at`; also deletes the sessions that have ended: past
  /// their expires_at at `now`, or last seen at or before `idle_before`.
  virtual void insert_browser_session(const std::string& hash, const std::string& user,
                                      common::time_point now, common::time_point expires_at,
                                      common::time_point idle_before) = 0;
  /// Deletes the browser session with SHA-256 hex `hash`; true when there was one.
  virtual bool delete_browser_session(const std::string& hash) = 0;

  // Notifications: the dispatcher's outbox.
  /// Like get_request, without locking the request even in a write transaction (the fan-out
  /// reads what it describes, it decides nothing on it).
  [[nodiscard]] virtual std::optional<common::access_request> read_request(std::int64_t id) = 0;
  /// Audit events with id > `after`, oldest first, at most `limit`.
  [[nodiscard]] virtual std::vector<audit_event> read_audit(std::int64_t after,
                                                            std::size_t limit) = 0;
  /// The id of the last audit event the fan-out has passed. In a write transaction the cursor
  /// is locked until the transaction ends, so one process fans out at a time.
  [[nodiscard]] virtual std::int64_t notify_cursor() = 0;
  /// Moves the fan-out's cursor to `audit_id`.
  virtual void set_notify_cursor(std::int64_t audit_id) = 0;
  /// Stores `d` (assigning d.id) unless a delivery of the same endpoint, audit event and event
  /// type exists; true when it was stored.
  virtual bool insert_delivery(delivery& d) = 0;
  /// The delivery with `id`, or nullopt.
  [[nodiscard]] virtual std::optional<delivery> get_delivery(std::int64_t id) = 0;
  /// Writes a delivery's status, attempts, next_attempt_at, give_up_at, last_error,
  /// last_http_status and delivered_at.
  virtual void update_delivery(const delivery& d) = 0;
  /// Deliveries matching `f`, newest first.
  [[nodiscard]] virtual std::vector<delivery> list_deliveries(const delivery_filter& f) = 0;
  /// Every endpoint the store has a state for (ever disabled).
  [[nodiscard]] virtual std::vector<endpoint_state> endpoint_states() = 0;
  /// Disables `name` from `at` for `reason`, or enables it when `at` is nullopt.
  virtual void set_endpoint_state(const std::string& name, std::optional<common::time_point> at,
                                  const std::string& reason) = 0;
  /// Marks every pending delivery of `endpoint` dead with `reason` as its last error; returns
  /// how many.
  virtual std::int64_t end_pending_deliveries(const std::string& endpoint,
                                              const std::string& reason) = 0;
  /// Deletes up to `limit` delivered or dead deliveries whose last attempt was due before
  /// `before`, oldest first; returns how many.
  virtual std::int64_t prune_deliveries(common::time_point before, std::size_t limit) = 0;
  /// The newest audit event of request `request_id` with `action`, if any.
  [[nodiscard]] virtual std::optional<audit_event> last_request_audit(
      std::int64_t request_id, const std::string& action) = 0;

  /// Remembers a request from Slack by `key` (a hash of its signature) until `expires_at`,
  /// forgetting those expired at `now`; false when it was remembered already (a replay).
  virtual bool remember_slack_request(const std::string& key, common::time_point expires_at,
                                      common::time_point now) = 0;
  /// Records a posted Slack message; false when its webhook_id is recorded already.
  virtual bool insert_slack_message(const slack_message_ref& m) = 0;
  /// The message the delivery `webhook_id` posted, if it did.
  [[nodiscard]] virtual std::optional<slack_message_ref> slack_message_by_delivery(
      const std::string& webhook_id) = 0;
  /// Every message recorded about request `request_id`, oldest first.
  [[nodiscard]] virtual std::vector<slack_message_ref> slack_messages(std::int64_t request_id) = 0;
  /// Deletes up to `limit` recorded messages of requests that ended (EXPIRED, REVOKED,
  /// REJECTED, FAILED) with their last change before `before`, which nothing updates or
  /// replies to again; returns how many.
  virtual std::int64_t prune_slack_messages(common::time_point before, std::size_t limit) = 0;
};

/// The store. Thread-safe; callbacks should be short. Failures to reach the database throw
/// store_unavailable; other failures std::runtime_error.
class store {
 public:
  virtual ~store() = default;
  /// Runs `fn` in one write transaction: committed when it returns, rolled back when it throws
  /// (the exception is rethrown). `fn` may run again when the database asks for a retry
  /// (deadlock, serialization failure), so it must only assign what it captures.
  virtual void transact(const std::function<void(store_tx&)>& fn) = 0;
  /// Runs `fn` in one read-only transaction: nothing is locked.
  virtual void read(const std::function<void(store_tx&)>& fn) = 0;
  /// What is due at `now`; PENDING requests created before `stale_before` count as stale.
  /// Due units are claimed for this process, and units another process (or this one) holds
  /// are left out, so each is worked on by one process at a time; a claim ends with
  /// release_unit, or with the process (a replica that dies frees its claims at once).
  /// Requests are only candidates: the step itself must use try_lock_request and re-check.
  [[nodiscard]] virtual due_work find_due(common::time_point now,
                                          common::time_point stale_before) = 0;
  /// Ends this process's claim on a unit returned by find_due.
  virtual void release_unit(std::int64_t unit_id) = 0;
  /// Calls `fn` (from a store thread) when another process may have committed a change, so
  /// long-polls and the scheduler look again; also after a lost connection is restored.
  /// Embedded stores with a single process never call it. Setting an empty function stops
  /// the calls: none is running when it returns. `fn` must be quick and not call the store.
  virtual void on_remote_change(std::function<void()> fn) { (void)fn; }
  /// The earliest instant at which find_due could return something: the first ACTIVE end,
  /// unit retry, or PENDING request turning stale after `pending_ttl`.
  [[nodiscard]] virtual std::optional<common::time_point> next_due(
      std::chrono::milliseconds pending_ttl) = 0;
  /// Audit events with id > `after` (status events only when `status_only`), oldest first.
  [[nodiscard]] virtual std::vector<audit_event> audit_after(std::int64_t after,
                                                             std::optional<std::int64_t> request_id,
                                                             bool status_only,
                                                             std::size_t limit) = 0;
  /// The id of the newest audit event (0 when none).
  [[nodiscard]] virtual std::int64_t last_audit_id() = 0;
  /// Counts of requests per status, for /metrics.
  [[nodiscard]] virtual std::vector<std::pair<common::status, std::int64_t>> count_by_status() = 0;
  /// Number of units stuck in REVOKING with at least `min_attempts` failures.
  [[nodiscard]] virtual std::int64_t count_stuck_revocations(int min_attempts) = 0;
  /// The API token with SHA-256 hex `hash` unless it is unknown or revoked; an expired one is
  /// returned too, so the caller can say it expired. Records the use as last_used_at, at most
  /// once a minute per token so reads stay cheap.
  [[nodiscard]] virtual std::optional<stored_token> find_token(const std::string& hash,
                                                               common::time_point now) = 0;
  /// The browser session with SHA-256 hex `hash`, or nullopt. One that has ended is returned
  /// too: the store does not know the idle timeout, the caller does.
  [[nodiscard]] virtual std::optional<browser_session> find_browser_session(
      const std::string& hash) = 0;
  /// Records a use of the browser session with SHA-256 hex `hash` at `now`, unless its last
  /// recorded use is less than `min_interval` before `now` (so a busy session costs a write
  /// now and then, not per call); true when it wrote.
  virtual bool touch_browser_session(const std::string& hash, common::time_point now,
                                     std::chrono::milliseconds min_interval) = 0;
  /// Pending deliveries due at `now` (next attempt reached, endpoint not disabled, and no
  /// earlier pending delivery to the same endpoint about the same request), oldest due first, at
  /// most `limit`; claimed for this process like find_due's units, and ended by
  /// release_delivery. The attempt must re-read the delivery and check it is still what it got.
  [[nodiscard]] virtual std::vector<delivery> find_due_deliveries(common::time_point now,
                                                                  std::size_t limit) = 0;
  /// PENDING requests made at or before `made_before` and ACTIVE ones ending at or before
  /// `ending_before`, with their last notice; only candidates: the notice's transaction must
  /// lock the request and check again.
  [[nodiscard]] virtual std::vector<notice_candidate> notice_candidates(
      common::time_point made_before, common::time_point ending_before) = 0;
  /// Ends this process's claim on a delivery returned by find_due_deliveries.
  virtual void release_delivery(std::int64_t id) = 0;
  /// The earliest next attempt of a pending delivery, if any.
  [[nodiscard]] virtual std::optional<common::time_point> next_delivery_due() = 0;
  /// Counts for /metrics.
  [[nodiscard]] virtual delivery_stats count_deliveries() = 0;
  /// A cheap liveness probe of the underlying database.
  [[nodiscard]] virtual bool ping() = 0;
  /// Seals every stored unit secret not sealed with the current key (secrets stored before
  /// encryption at rest, or under a key since replaced); returns how many. Throws when the
  /// store has no key.
  virtual std::size_t reseal_secrets() = 0;
};

}  // namespace apono::broker
