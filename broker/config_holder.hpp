// The live configuration: readers take a snapshot; SIGHUP swaps in a new one atomically.
#pragma once

#include <memory>
#include <mutex>

#include "broker/config.hpp"

namespace apono::broker {

/// Holds the current config; thread-safe.
class config_holder {
 public:
  /// Starts with `initial` (never null).
  explicit config_holder(std::shared_ptr<const config> initial) : cfg_(std::move(initial)) {}
  /// The current config; stays valid for as long as the caller keeps it.
  [[nodiscard]] std::shared_ptr<const config> get() const {
    std::lock_guard lock(mutex_);
    return cfg_;
  }
  /// Replaces the config for later readers.
  void set(std::shared_ptr<const config> next) {
    std::lock_guard lock(mutex_);
    cfg_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const config> cfg_;
};

}  // namespace apono::broker
