// One Ed25519 key pair per SSH session, generated and exported in memory with libssh.
#include "launchers/ssh/ssh_keys.hpp"

#include <libssh/libssh.h>
#include <string.h>

#include <memory>
#include <stdexcept>
#include <type_traits>

namespace apono::launchers {

namespace {

struct key_free {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using unique_key = std::unique_ptr<std::remove_pointer_t<ssh_key>, key_free>;

// A string libssh allocated; wiped before it is freed, since it may hold a private key.
struct wiping_free {
  void operator()(char* s) const {
    ::explicit_bzero(s, ::strlen(s));
    ssh_string_free_char(s);
  }
};
using unique_chars = std::unique_ptr<char, wiping_free>;

}  // namespace

void init_libssh() {
  // ssh_init is reference counted and never undone here: sessions may run until exit.
  static const int rc = ssh_init();
  if (rc != SSH_OK) throw std::runtime_error("cannot initialise libssh");
}

ssh_keypair generate_ssh_keypair(const std::string& comment) {
  for (unsigned char c : comment)
    if (c < 0x20 || c == 0x7f)
      throw std::runtime_error("an SSH key comment must be one line of printable text");
  init_libssh();
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK || raw == nullptr)
    throw std::runtime_error("cannot generate an Ed25519 key");
  unique_key key(raw);

  char* priv = nullptr;
  // libssh 0.10 writes Ed25519 keys in the OpenSSH format (other types would be PEM).
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &priv) != SSH_OK ||
      priv == nullptr)
    throw std::runtime_error("cannot export the generated private key");
  unique_chars priv_text(priv);
  char* pub = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &pub) != SSH_OK || pub == nullptr)
    throw std::runtime_error("cannot export the generated public key");
  unique_chars pub_text(pub);

  ssh_keypair pair;
  pair.private_key = priv_text.get();
  if (!pair.private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
    throw std::runtime_error("libssh exported the private key in an unexpected format");
  if (pair.private_key.back() != '\n') pair.private_key += '\n';
  pair.public_key =
      std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " + pub_text.get();
  if (!comment.empty()) pair.public_key += " " + comment;
  return pair;
}

}  // namespace apono::launchers
