// The broker's persistent state behind a small interface: requests with their units, unit
// secrets and retry state, the audit trail, and the API tokens and one-time authorization
// codes of browser login (only their SHA-256 hashes). All writes happen in a transaction, and
// every lifecycle transition writes its audit event in the same transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
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
  std::int64_t unit_id = 0;              ///< the unit
  std::int64_t request_id = 0;           ///< its request
  std::string login;                     ///< the target login (role name); empty before first grant
  std::string secret;                    ///< the target secret; wiped once revoked
  int attempts = 0;                      ///< failed attempts of the current step
  common::time_point next_attempt_at{};  ///< when the scheduler may try again
  std::string last_error;                ///< last failure, safe to show
};

/// Filter for listing requests.
struct request_filter {
  std::optional<std::string> requester;             ///< only this user's
  std::optional<common::time_point> created_after;  ///< only newer ones
  std::vector<common::status> statuses;             ///< any of these; empty = all
  std::size_t limit = 1000;                         ///< at most this many, newest first
};

/// Work the scheduler finds due.
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

/// Reads and writes inside one transaction. Valid only inside store::transact's callback.
class store_tx {
 public:
  virtual ~store_tx() = default;
  /// The request with its units, or nullopt.
  [[nodiscard]] virtual std::optional<common::access_request> get_request(std::int64_t id) = 0;
  /// Requests matching `f`, newest first, with units.
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

  /// Stores an API token issued to `user` by its SHA-256 hex `hash`; `description` says what it
  /// is for (e.g. `apono login`).
  virtual void insert_token(const std::string& hash, const std::string& user,
                            common::time_point now, const std::string& description) = 0;
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
};

/// The store. Implementations serialize transactions; callbacks should be short.
class store {
 public:
  virtual ~store() = default;
  /// Runs `fn` in one transaction: committed when it returns, rolled back when it throws
  /// (the exception is rethrown).
  virtual void transact(const std::function<void(store_tx&)>& fn) = 0;
  /// What is due at `now`; PENDING requests created before `stale_before` count as stale.
  [[nodiscard]] virtual due_work find_due(common::time_point now,
                                          common::time_point stale_before) = 0;
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
  /// The user of the live (not revoked) API token with SHA-256 hex `hash`, or nullopt. Records
  /// the use as last_used_at, at most once a minute per token so reads stay cheap.
  [[nodiscard]] virtual std::optional<std::string> find_token_user(const std::string& hash,
                                                                   common::time_point now) = 0;
  /// A cheap liveness probe of the underlying database.
  [[nodiscard]] virtual bool ping() = 0;
};

}  // namespace apono::broker
