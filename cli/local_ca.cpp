// The local CA: ECDSA P-256, ten years, in the config dir; the leaf is never written to disk.
#include "cli/local_ca.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "common/secrets.hpp"
#include "common/x509.hpp"

namespace apono::cli {

namespace fs = std::filesystem;
namespace x509 = common::x509;

namespace {

constexpr long ca_lifetime = 3650L * 24 * 60 * 60;
constexpr long min_leaf_lifetime = 10L * 60;
constexpr long max_leaf_lifetime = 30L * 24 * 60 * 60;

// Held while the CA is read or made: two first runs at once must not each write a CA and
// hand out leaves the other's file does not sign.
class dir_lock {
 public:
  explicit dir_lock(const fs::path& path)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
      throw std::runtime_error("cannot lock " + path.string());
  }
  ~dir_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

 private:
  int fd_;
};

}  // namespace

local_tls_identity issue_local_tls(const fs::path& dir, common::time_point until) {
  common::ensure_private_dir(dir);
  const fs::path cert_path = dir / "local-ca.pem";
  const fs::path key_path = dir / "local-ca-key.pem";
  x509::x509_ptr ca;
  x509::pkey_ptr ca_key;
  std::string ca_pem;
  {
    dir_lock lock(dir / "local-ca.lock");
    if (fs::exists(cert_path)) {
      if (!fs::exists(key_path))
        throw std::runtime_error(key_path.string() + " is missing; restore it, or remove " +
                                 cert_path.string() + " to make a new local CA");
      ca_pem = common::read_file(cert_path);
      ca = x509::parse_cert(ca_pem, cert_path.string());
      ca_key = x509::parse_key(common::read_file(key_path), key_path.string());
      if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error(key_path.string() + " does not match " + cert_path.string());
      }
    } else {
      ca_key = x509::generate_key();
      ca = x509::make_ca(ca_key.get(), "apono local proxy CA", ca_lifetime);
      ca_pem = x509::cert_pem(ca.get());
      // Key first: a lone key (a crash in between) is replaced by the branch we are in.
      common::write_private_file(key_path, x509::key_pem(ca_key.get()));
      common::write_private_file(cert_path, ca_pem);
    }
  }
  const long left =
      (common::to_unix_ms(until) - common::to_unix_ms(common::system_clock().now())) / 1000;
  const long lifetime = std::clamp(left + 5 * 60, min_leaf_lifetime, max_leaf_lifetime);
  auto key = x509::generate_key();
  auto leaf = x509::make_server_cert(key.get(), ca.get(), ca_key.get(),
                                     {"localhost", "127.0.0.1", "::1"}, lifetime);
  return {cert_path, x509::cert_pem(leaf.get()) + ca_pem, x509::key_pem(key.get())};
}

}  // namespace apono::cli
