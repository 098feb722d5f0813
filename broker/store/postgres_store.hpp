// The store on PostgreSQL, for any number of aponod replicas sharing one database (a primary
// with streaming standbys, Patroni, or a PostgreSQL-compatible distributed SQL).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/secret_box.hpp"
#include "broker/store/store.hpp"

namespace apono::broker {

class pg_session;

/// Settings of the PostgreSQL store.
struct postgres_store_options {
  std::string url;    ///< libpq connection string (URI or key=value); holds a secret
  int pool_size = 8;  ///< connections for transactions, besides the claim and listen ones
  std::chrono::milliseconds acquire_timeout{5000};  ///< waiting for a pooled connection
  std::chrono::seconds statement_timeout{15};       ///< any one statement, server-side
  std::shared_ptr<const secret_box> keys{};         ///< seal unit secrets; none: as given (tests)
};

/// PostgreSQL implementation of store. A pool of connections serves transactions side by
/// side; one more connection holds this process's unit claims (session advisory locks, so a
/// process that dies frees them with its connection, at once); one more LISTENs for the
/// changes other replicas commit.
class postgres_store final : public store {
 public:
  /// Connects, migrates (serialized across replicas by an advisory lock) and starts the
  /// listener; throws store_unavailable when the database cannot be reached, and
  /// std::runtime_error for anything else (never with the password in the message).
  explicit postgres_store(postgres_store_options options);
  ~postgres_store() override;
  postgres_store(const postgres_store&) = delete;
  postgres_store& operator=(const postgres_store&) = delete;

  void transact(const std::function<void(store_tx&)>& fn) override;
  void read(const std::function<void(store_tx&)>& fn) override;
  [[nodiscard]] due_work find_due(common::time_point now, common::time_point stale_before) override;
  void release_unit(std::int64_t unit_id) override;
  void on_remote_change(std::function<void()> fn) override;
  [[nodiscard]] std::optional<common::time_point> next_due(
      std::chrono::milliseconds pending_ttl) override;
  [[nodiscard]] std::vector<audit_event> audit_after(std::int64_t after,
                                                     std::optional<std::int64_t> request_id,
                                                     bool status_only, std::size_t limit) override;
  [[nodiscard]] std::int64_t last_audit_id() override;
  [[nodiscard]] std::vector<std::pair<common::status, std::int64_t>> count_by_status() override;
  [[nodiscard]] std::int64_t count_stuck_revocations(int min_attempts) override;
  [[nodiscard]] std::optional<stored_token> find_token(const std::string& hash,
                                                       common::time_point now) override;
  [[nodiscard]] std::optional<browser_session> find_browser_session(
      const std::string& hash) override;
  bool touch_browser_session(const std::string& hash, common::time_point now,
                             std::chrono::milliseconds min_interval) override;
  [[nodiscard]] std::vector<delivery> find_due_deliveries(common::time_point now,
                                                          std::size_t limit) override;
  [[nodiscard]] std::vector<notice_candidate> notice_candidates(
      common::time_point made_before, common::time_point ending_before) override;
  void release_delivery(std::int64_t id) override;
  [[nodiscard]] std::optional<common::time_point> next_delivery_due() override;
  [[nodiscard]] delivery_stats count_deliveries() override;
  [[nodiscard]] bool ping() override;
  std::size_t reseal_secrets() override;
  /// The schema version after migrations.
  [[nodiscard]] int schema_version();

 private:
  class tx;
  class lease;
  std::unique_ptr<pg_session> connect() const;
  lease acquire(std::chrono::milliseconds timeout);
  void give_back(std::unique_ptr<pg_session> c);
  void run_tx(const std::function<void(store_tx&)>& fn, bool write);
  void listen_loop();

  postgres_store_options options_;
  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pg_session>> idle_;
  int open_ = 0;  // connections out of the pool or idle in it

  std::mutex claim_mutex_;
  std::unique_ptr<pg_session> claim_conn_;     // holds this process's unit claims
  std::set<std::int64_t> claimed_;             // what claim_conn_ holds
  std::set<std::int64_t> claimed_deliveries_;  // likewise, of deliveries

  std::mutex listen_mutex_;
  std::condition_variable listen_cv_;
  bool stopping_ = false;
  std::function<void()> on_change_;
  std::thread listener_;
};

}  // namespace apono::broker
