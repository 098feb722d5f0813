// The embedded store: one SQLite file in WAL mode with versioned migrations.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "broker/store/secret_box.hpp"
#include "broker/store/store.hpp"

struct sqlite3;

namespace apono::broker {
struct sqlite_connection;
}

namespace apono::broker {

/// SQLite implementation of store. One writer connection, whose transactions a mutex
/// serializes (ample for one broker: a transaction is a handful of row writes), and a few
/// read-only connections that read the last commit beside it (WAL mode).
class sqlite_store final : public store {
 public:
  /// Opens (creating as 0600 if missing) and migrates `path`; throws std::runtime_error.
  /// Unit secrets are sealed with `keys`; without keys (unit tests) they are kept as given.
  explicit sqlite_store(const std::filesystem::path& path,
                        std::shared_ptr<const secret_box> keys = nullptr);
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  void transact(const std::function<void(store_tx&)>& fn) override;
  void read(const std::function<void(store_tx&)>& fn) override;
  [[nodiscard]] due_work find_due(common::time_point now, common::time_point stale_before) override;
  void release_unit(std::int64_t unit_id) override;
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
  struct reader;
  static constexpr std::size_t reader_count = 3;
  void run(sqlite_connection& c, const std::function<void(store_tx&)>& fn, const char* begin);
  reader& lock_reader(std::unique_lock<std::mutex>& lock);
  std::shared_ptr<const secret_box> keys_;
  std::mutex mutex_;  // the writer's
  std::unique_ptr<sqlite_connection> writer_;
  sqlite3* db_ = nullptr;  // writer_'s
  std::vector<std::unique_ptr<reader>> readers_;
  std::atomic<std::size_t> next_reader_{0};
  std::set<std::int64_t> claimed_;             // units handed out by find_due and not yet released
  std::set<std::int64_t> claimed_deliveries_;  // likewise for find_due_deliveries
};

}  // namespace apono::broker
