// `aponod store keygen|rekey|migrate`: what an operator runs beside the broker. Each prints
// what it did on stdout and returns the process's exit status; failures throw with a one-line
// reason.
#pragma once

#include <string>

namespace apono::broker {

/// Prints a new key line `ID BASE64`, or adds it as the newest key to `out` (0600).
int store_keygen(const std::string& id, const std::string& out);

/// Opens the store of the config at `config_path` and seals every secret with its newest key.
int store_rekey(const std::string& config_path);

/// Copies the SQLite store at `from` (`sqlite:PATH`) to the empty PostgreSQL store `to`, with
/// the keys in `key_file` (default: store.key beside the SQLite file; $APONO_STORE_KEYS wins).
int store_migrate(const std::string& from, const std::string& to, const std::string& key_file);

}  // namespace apono::broker
