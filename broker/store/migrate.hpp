// `aponod store migrate`: moving a broker's state from its SQLite file to PostgreSQL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "broker/store/secret_box.hpp"

namespace apono::broker {

/// What a migration copied: rows per table, equal at both ends (it throws otherwise).
struct migration_report {
  std::map<std::string, std::int64_t> rows;  ///< table -> rows copied and found at the target
  std::size_t sealed_now = 0;                ///< secrets that were in the clear, sealed on the way
  std::size_t secrets_checked = 0;           ///< stored secrets opened with the keys given
};

/// Copies every row (requests, units with their sealed secrets, audit, API tokens, login
/// codes, failed sign-in counts, browser sessions) from the SQLite store at `sqlite_path` to the
/// empty PostgreSQL store at `postgres_url`, ids kept, in one transaction, then checks the
/// counts and that `keys` open every secret. The source is migrated to the current schema first and
/// not changed otherwise. Stop the broker using the source first. Throws std::runtime_error with a
/// one-line reason (a non-empty target, a count that differs, a secret the keys do not open).
migration_report migrate_sqlite_to_postgres(const std::filesystem::path& sqlite_path,
                                            const std::string& postgres_url,
                                            std::shared_ptr<const secret_box> keys);

}  // namespace apono::broker
