// The shared model of access requests, their units and access details, with its JSON form.
// The broker produces this JSON and the CLI reads it, so both go through these functions.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace apono::common {

/// Status of a request and of each of its access units (see the lifecycle in DESIGN.md).
enum class status {
  pending,   ///< waiting for an approver
  granting,  ///< approved; credentials being created at the target
  active,    ///< granted; the clock runs until ends_at
  revoking,  ///< ending (expiry or revoke); credentials being removed at the target
  expired,   ///< ended at its end time; nothing left at the target
  revoked,   ///< ended early by a revoke; nothing left at the target
  rejected,  ///< an approver said no
  failed,    ///< could not be granted, or pending for too long
};

/// Upper-case wire name: PENDING, GRANTING, ...
[[nodiscard]] std::string_view to_string(status s) noexcept;
/// Parses a wire name (case-insensitive).
[[nodiscard]] std::optional<status> parse_status(std::string_view s) noexcept;
/// True for statuses a request never leaves.
[[nodiscard]] bool is_final(status s) noexcept;

/// `AR-00012` for 12.
[[nodiscard]] std::string format_request_id(std::int64_t n);
/// Accepts `AR-00012`, `ar-12` or `12`; nullopt otherwise.
[[nodiscard]] std::optional<std::int64_t> parse_request_id(std::string_view s) noexcept;

/// One (resource, permission) pair of a request.
struct access_unit {
  std::int64_t id = 0;             ///< store id
  std::string integration;         ///< integration id
  std::string resource_type;       ///< e.g. `database`
  std::string resource;            ///< e.g. the database name
  std::string permission;          ///< e.g. `read_only`
  status state = status::pending;  ///< this unit's own status
  std::string last_error;          ///< the last provisioning error, empty when none
};

/// An access request as the API shows it.
struct access_request {
  std::int64_t id = 0;                    ///< numeric id; format_request_id gives AR-xxxxx
  std::string requester;                  ///< user name
  std::string integration;                ///< empty for bundle requests
  std::string resource_type;              ///< empty for bundle requests
  std::string bundle;                     ///< bundle name, empty for direct requests
  std::chrono::seconds duration{0};       ///< how long the grant lasts once ACTIVE
  std::string justification;              ///< why the user needs it
  status state = status::pending;         ///< request status
  std::string end_reason;                 ///< for REVOKING/ended: `expired`, `revoked`, `failed`
  std::string flow;                       ///< the access flow that governs it
  bool automatic = false;                 ///< approved by the flow without a person
  time_point created_at{};                ///< when it was asked for
  time_point updated_at{};                ///< last status change
  std::optional<time_point> active_from;  ///< when it became ACTIVE
  std::optional<time_point> ends_at;      ///< active_from + duration
  std::string decided_by;                 ///< approver or rejecter (or `automatic`)
  std::string reason;                     ///< rejection, revoke or failure reason
  std::vector<access_unit> units;         ///< one per (resource, permission)
};

/// Credentials and connection facts for one unit while the grant is ACTIVE.
struct unit_credentials {
  std::string integration;      ///< integration id
  std::string type;             ///< integration type, e.g. `postgresql`
  std::string resource;         ///< resource name (database)
  std::string permission;       ///< permission name
  std::string host;             ///< where clients connect
  int port = 0;                 ///< where clients connect
  std::string database;         ///< database name for postgresql
  std::string username;         ///< the short-lived login
  std::string password;         ///< the short-lived password
  std::string sslmode;          ///< libpq sslmode clients should use
  std::string ssl_root_cert;    ///< PEM CA for sslmode verify-ca/verify-full (empty: none)
  std::string principal{};      ///< ssh: the certificate principal
  std::string known_hosts{};    ///< ssh: known_hosts lines for the host, `[host]:port TYPE KEY`
  std::string session_token{};  ///< aws: the SessionToken (username/password: key id/secret key)
  std::optional<time_point> expires_at{};  ///< aws, kubernetes: when these credentials end
  std::string region{};                    ///< aws: the region for clients
  std::string server{};                    ///< kubernetes: the API server URL (CA in ssl_root_cert)
  std::string role{};                      ///< aws: the role ARN; kubernetes: the ClusterRole
  std::string identity{};  ///< aws: the assumed-role ARN; kubernetes: the service account
};

/// What `access-details` returns: the grant's end and each unit's credentials.
struct access_details {
  std::string request_id;               ///< AR-xxxxx
  status state = status::active;        ///< always ACTIVE when served
  time_point ends_at{};                 ///< the grant end
  std::vector<unit_credentials> units;  ///< one per unit
  /// Position in the event feed when the details were served: a client watching for a
  /// revoke polls `/api/v1/events?after=` from here.
  std::int64_t events_after = 0;
};

/// JSON form of a request (units included).
[[nodiscard]] boost::json::value to_json(const access_request& r);
/// JSON form of access details; connection strings included for convenience.
[[nodiscard]] boost::json::value to_json(const access_details& d);
/// Reads a request back from its JSON form; throws api_error(invalid_argument) on bad shape.
[[nodiscard]] access_request request_from_json(const boost::json::value& v);
/// Reads access details back; throws api_error(invalid_argument) on bad shape.
[[nodiscard]] access_details details_from_json(const boost::json::value& v);
/// An SSH certificate issued for one session of a grant.
struct ssh_certificate {
  std::string certificate;    ///< `ssh-ed25519-cert-v01@openssh.com BASE64 KEY_ID`
  std::string key_id;         ///< names the request, the user and the login
  std::uint64_t serial = 0;   ///< certificate serial (the audit event that issued it)
  std::string principal;      ///< the one principal it is valid for
  time_point valid_after{};   ///< not valid before
  time_point valid_before{};  ///< not valid from here on: the grant end
  unit_credentials unit;      ///< the host, login and known_hosts it is for
};

/// JSON form of an issued certificate.
[[nodiscard]] boost::json::value to_json(const ssh_certificate& c);
/// Reads an issued certificate back; throws api_error(invalid_argument) on bad shape.
[[nodiscard]] ssh_certificate ssh_certificate_from_json(const boost::json::value& v);

/// libpq URI for a PostgreSQL unit (user and password percent-encoded).
[[nodiscard]] std::string postgres_uri(const unit_credentials& c);

}  // namespace apono::common
