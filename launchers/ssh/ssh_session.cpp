// The built-in SSH client on libssh 0.10. Everything runs on the calling thread (libssh sessions
// are not thread-safe): a blocking handshake bounded by a 10 s timeout, then one poll() loop
// over the input, the session's socket, a signal self-pipe and the grant's wait_fd, with
// non-blocking channel reads and writes bounded by the remote window, so that nothing blocks
// while access ends.
#include "launchers/ssh/ssh_session.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "launchers/shell/shell.hpp"
#include "launchers/ssh/ssh_keys.hpp"

namespace apono::launchers {

namespace {

using namespace std::chrono_literals;

// How long connecting, the key exchange and each handshake step may take.
constexpr long connect_timeout_seconds = 10;
// Bytes moved per read or write: at most PIPE_BUF per local write, which poll() said is room for.
constexpr std::size_t chunk = 4096;

struct session_free {
  void operator()(ssh_session s) const {
    if (ssh_is_connected(s) != 0) ssh_disconnect(s);
    ssh_free(s);
  }
};
struct channel_free {
  void operator()(ssh_channel c) const { ssh_channel_free(c); }
};
struct key_free {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using unique_session = std::unique_ptr<std::remove_pointer_t<ssh_session>, session_free>;
using unique_channel = std::unique_ptr<std::remove_pointer_t<ssh_channel>, channel_free>;
using unique_key = std::unique_ptr<std::remove_pointer_t<ssh_key>, key_free>;

/// "host:port", with IPv6 addresses in brackets.
std::string endpoint(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Writes all of `data` to a blocking `fd`; false on an error.
bool write_fully(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// known_hosts

/// One usable known_hosts entry for the host we connect to.
struct known_key {
  std::string type;  ///< key type as written, e.g. "ssh-ed25519"
  unique_key key;
  bool revoked = false;  ///< from a "@revoked" line: this key must never be accepted
};

/// True when the comma-separated host patterns of a known_hosts line name `host` at `port`,
/// as OpenSSH matches them: "name" is port 22, "[name]:port" another port, "*" and "?"
/// wildcards, and a matching "!pattern" rules the line out. Hashed names ("|1|...") never match.
bool host_matches(const std::string& patterns, const std::string& host, int port) {
  bool matched = false;
  std::istringstream list(patterns);
  for (std::string p; std::getline(list, p, ',');) {
    bool negated = !p.empty() && p[0] == '!';
    if (negated) p.erase(0, 1);
    if (p.empty() || p[0] == '|') continue;
    std::string name = p;
    int pattern_port = 22;
    if (p[0] == '[') {
      auto close = p.find("]:");
      if (close == std::string::npos) continue;
      name = p.substr(1, close - 1);
      char* end = nullptr;
      long v = std::strtol(p.c_str() + close + 2, &end, 10);
      if (end == nullptr || *end != '\0' || v <= 0 || v > 65535) continue;
      pattern_port = static_cast<int>(v);
    }
    if (pattern_port != port) continue;
    if (::fnmatch(lower(name).c_str(), lower(host).c_str(), 0) != 0) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/// The entries of `text` that apply to host:port.
std::vector<known_key> parse_known_hosts(const std::string& text, const std::string& host,
                                         int port) {
  std::vector<known_key> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto w = words(line);
    if (w.empty() || w[0][0] == '#') continue;
    bool revoked = false;
    if (w[0][0] == '@') {
      // @cert-authority lines vouch for host certificates, which the broker does not hand out.
      if (w[0] != "@revoked") continue;
      revoked = true;
      w.erase(w.begin());
    }
    if (w.size() < 3 || !host_matches(w[0], host, port)) continue;
    auto type = ssh_key_type_from_name(w[1].c_str());
    if (type == SSH_KEYTYPE_UNKNOWN) continue;
    ssh_key raw = nullptr;
    if (ssh_pki_import_pubkey_base64(w[2].c_str(), type, &raw) != SSH_OK) continue;
    out.push_back({w[1], unique_key(raw), revoked});
  }
  return out;
}

/// The host key algorithms to offer: only the types of the keys we know, so that the server
/// presents one of those.
std::string host_key_algorithms(const std::vector<known_key>& known) {
  std::vector<std::string> algos;
  auto add = [&](const std::string& a) {
    if (std::find(algos.begin(), algos.end(), a) == algos.end()) algos.push_back(a);
  };
  for (const auto& k : known) {
    if (k.revoked) continue;
    if (k.type == "ssh-rsa") {
      add("rsa-sha2-512");
      add("rsa-sha2-256");
    } else {
      add(k.type);
    }
  }
  std::string joined;
  for (const auto& a : algos) joined += (joined.empty() ? "" : ",") + a;
  return joined;
}

/// "ssh-ed25519 SHA256:..." for messages.
std::string describe_key(ssh_key key) {
  std::string out = ssh_key_type_to_char(ssh_key_type(key));
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) return out;
  char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (fp != nullptr) {
    out += " ";
    out += fp;
    ssh_string_free_char(fp);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Connecting and logging in

/// Standard base64 decoded; nullopt for anything else.
std::optional<std::string> base64_decode(const std::string& text) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  std::size_t end = text.find_last_not_of('=');
  if (end == std::string::npos || text.size() - end - 1 > 2) return std::nullopt;
  for (std::size_t i = 0; i <= end; ++i) {
    auto v = alphabet.find(text[i]);
    if (v == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

/// Skips one SSH wire string (uint32 length, bytes) at `pos`; false when it does not fit.
bool skip_string(const std::string& blob, std::size_t& pos) {
  if (blob.size() - pos < 4) return false;
  std::size_t len = 0;
  for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(blob[pos + i]);
  if (blob.size() - pos - 4 < len) return false;
  pos += 4 + len;
  return true;
}

/// True when the certificate (its base64 field) certifies the public half of `key`. libssh 0.10
/// does not check this itself: ssh_pki_copy_cert_to_privkey attaches any certificate of the
/// right type. A certificate blob is the key blob with its own type name and a nonce first:
///   string cert-type, string nonce, <the key's fields>, serial, ...
bool certifies(const std::string& cert_base64, ssh_key key) {
  ssh_key raw = nullptr;
  if (ssh_pki_export_privkey_to_pubkey(key, &raw) != SSH_OK || raw == nullptr) return false;
  unique_key pub(raw);
  char* text = nullptr;
  if (ssh_pki_export_pubkey_base64(pub.get(), &text) != SSH_OK || text == nullptr) return false;
  auto key_blob = base64_decode(text);
  ssh_string_free_char(text);
  auto cert_blob = base64_decode(cert_base64);
  if (!key_blob || !cert_blob) return false;
  std::size_t key_pos = 0, cert_pos = 0;
  if (!skip_string(*key_blob, key_pos) || !skip_string(*cert_blob, cert_pos) ||
      !skip_string(*cert_blob, cert_pos))
    return false;
  return std::string_view(*cert_blob)
      .substr(cert_pos)
      .starts_with(std::string_view(*key_blob).substr(key_pos));
}

template <typename T>
void set_option(ssh_session s, ssh_options_e what, const T* value) {
  if (ssh_options_set(s, what, value) != SSH_OK)
    throw std::runtime_error(std::string("cannot set up the SSH session: ") + ssh_get_error(s));
}

/// Connects and checks the server's host key against `known`; throws with one clear line.
unique_session connect(const ssh_options& o, const std::vector<known_key>& known) {
  const std::string where = endpoint(o.host, o.port);
  unique_session s(ssh_new());
  if (!s) throw std::runtime_error("cannot create an SSH session");
  const int verbosity = SSH_LOG_NOLOG;
  const bool process_config = false;
  const long timeout = connect_timeout_seconds;
  const std::string algos = host_key_algorithms(known);
  set_option(s.get(), SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
  // Nothing of the user's OpenSSH setup applies: no ~/.ssh/config, no known_hosts files.
  set_option(s.get(), SSH_OPTIONS_PROCESS_CONFIG, &process_config);
  set_option(s.get(), SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
  set_option(s.get(), SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  set_option(s.get(), SSH_OPTIONS_HOST, o.host.c_str());
  set_option(s.get(), SSH_OPTIONS_PORT, &o.port);
  set_option(s.get(), SSH_OPTIONS_USER, o.user.c_str());
  set_option(s.get(), SSH_OPTIONS_HOSTKEYS, algos.c_str());
  set_option(s.get(), SSH_OPTIONS_TIMEOUT, &timeout);

  if (ssh_connect(s.get()) != SSH_OK) {
    std::string error = ssh_get_error(s.get());
    if (error.find("server host key algo") != std::string::npos)
      throw std::runtime_error(where + " has no host key of the type the broker gave (" + algos +
                               ")");
    throw std::runtime_error("cannot connect to " + where + ": " + error);
  }

  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s.get(), &raw) != SSH_OK || raw == nullptr)
    throw std::runtime_error(where + " sent no host key");
  unique_key server_key(raw);
  bool trusted = false;
  for (const auto& k : known) {
    if (ssh_key_cmp(server_key.get(), k.key.get(), SSH_KEY_CMP_PUBLIC) != 0) continue;
    if (k.revoked)
      throw std::runtime_error("host key for " + where + " is revoked in what the broker gave (" +
                               describe_key(server_key.get()) + ")");
    trusted = true;
  }
  if (!trusted)
    throw std::runtime_error("host key for " + where + " does not match the one the broker gave " +
                             "(got " + describe_key(server_key.get()) + ")");
  return s;
}

/// Logs in with the private key and its certificate; throws with one clear line.
void authenticate(ssh_session s, const ssh_options& o) {
  const std::string where = endpoint(o.host, o.port);
  ssh_key raw = nullptr;
  // The key itself never appears in a message: only that it could not be read.
  if (ssh_pki_import_privkey_base64(o.private_key.c_str(), nullptr, nullptr, nullptr, &raw) !=
          SSH_OK ||
      raw == nullptr)
    throw std::runtime_error("the session's private key cannot be read");
  unique_key key(raw);

  auto cert_words = words(o.certificate);
  auto cert_type =
      cert_words.size() >= 2 ? ssh_key_type_from_name(cert_words[0].c_str()) : SSH_KEYTYPE_UNKNOWN;
  if (cert_type == SSH_KEYTYPE_UNKNOWN || !cert_words[0].ends_with("-cert-v01@openssh.com"))
    throw std::runtime_error("the session's certificate is not an OpenSSH certificate line");
  raw = nullptr;
  if (ssh_pki_import_cert_base64(cert_words[1].c_str(), cert_type, &raw) != SSH_OK ||
      raw == nullptr)
    throw std::runtime_error("the session's certificate cannot be read");
  unique_key cert(raw);
  if (!certifies(cert_words[1], key.get()) ||
      ssh_pki_copy_cert_to_privkey(cert.get(), key.get()) != SSH_OK)
    throw std::runtime_error("the session's certificate was not signed for its key");

  switch (ssh_userauth_publickey(s, nullptr, key.get())) {
    case SSH_AUTH_SUCCESS:
      return;
    case SSH_AUTH_DENIED:
      throw std::runtime_error(where + " refused the certificate for login " + o.user);
    case SSH_AUTH_PARTIAL:
      throw std::runtime_error(where + " wants more than the certificate for login " + o.user);
    default:
      throw std::runtime_error("logging in to " + where + " failed: " + ssh_get_error(s));
  }
}

// ---------------------------------------------------------------------------------------------
// The local terminal and signals

/// The terminal in raw mode, as OpenSSH sets it, restored when this dies or on restore().
class raw_terminal {
 public:
  explicit raw_terminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_iflag |= IGNPAR;
    raw.c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF | IUCLC);
    raw.c_lflag &= ~(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
    raw.c_oflag &= ~OPOST;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(fd_, TCSADRAIN, &raw) == 0;
  }
  ~raw_terminal() { restore(); }
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

  void restore() {
    if (!active_) return;
    active_ = false;
    while (::tcsetattr(fd_, TCSADRAIN, &saved_) != 0 && errno == EINTR) {
    }
  }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// The write end of the active signal pipe, for the handler (-1: none).
std::atomic<int> signal_pipe{-1};

extern "C" void on_signal(int sig) {
  const int saved = errno;
  const int fd = signal_pipe.load();
  if (fd >= 0) {
    const auto c = static_cast<unsigned char>(sig);
    [[maybe_unused]] auto n = ::write(fd, &c, 1);
  }
  errno = saved;
}

/// While a session runs: SIGWINCH, SIGHUP, SIGTERM, SIGINT and SIGQUIT arrive on a self-pipe
/// (those ignored before stay ignored) and SIGPIPE is ignored, so that a closed output reports
/// EPIPE; the previous dispositions come back when this dies. One at a time per process: a
/// second one while another is active leaves the signals to the first.
class session_signals {
 public:
  session_signals() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;
    int expected = -1;
    if (!signal_pipe.compare_exchange_strong(expected, fds[1])) {
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    struct sigaction act {};
    act.sa_handler = on_signal;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    for (int sig : handled) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0) continue;
      if (old.sa_handler == SIG_IGN && sig != SIGWINCH) continue;
      if (::sigaction(sig, &act, &old) == 0) saved_.push_back({sig, old});
    }
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    struct sigaction old {};
    if (::sigaction(SIGPIPE, &ign, &old) == 0) saved_.push_back({SIGPIPE, old});
  }
  ~session_signals() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      ::sigaction(it->first, &it->second, nullptr);
    if (write_fd_ >= 0) {
      signal_pipe.store(-1);
      ::close(write_fd_);
      ::close(read_fd_);
    }
  }
  session_signals(const session_signals&) = delete;
  session_signals& operator=(const session_signals&) = delete;

  /// Readable when a signal arrived (-1 when this instance handles none).
  [[nodiscard]] int fd() const { return read_fd_; }
  /// The signals that arrived since the last call, oldest first.
  std::vector<int> take() {
    std::vector<int> out;
    unsigned char buf[64];
    ssize_t n;
    while ((n = ::read(read_fd_, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    return out;
  }

 private:
  static constexpr int handled[] = {SIGWINCH, SIGHUP, SIGTERM, SIGINT, SIGQUIT};
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::vector<std::pair<int, struct sigaction>> saved_;
};

/// The terminal's size, 80x24 when it has none.
winsize window_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
    ws.ws_col = 80;
    ws.ws_row = 24;
  }
  return ws;
}

/// True once access has ended (the caller's grant_clock or revoke_watch ended the watch).
bool access_over(const proxy::grant_watch* watch) {
  return watch != nullptr && watch->ended();
}

/// Writes the end-of-access message and returns exit_access_ended.
int report_access_end(const ssh_options& o) {
  const std::string text = "\r\n" + o.watch->message() + "\r\n";
  write_fully(o.err, text.data(), text.size());
  return exit_access_ended;
}

// ---------------------------------------------------------------------------------------------
// The session loop

/// Why the loop stopped.
enum class stop {
  finished,      ///< the remote side closed the channel (or sent EOF and its exit status)
  access_ended,  ///< the watch ended
  signalled,     ///< a terminating signal arrived (signal_ says which)
  lost,          ///< the connection broke
  local_output,  ///< writing to out or err failed (e.g. the reader went away)
};

class session_loop {
 public:
  session_loop(ssh_session s, ssh_channel c, const ssh_options& o, bool pty,
               session_signals& signals)
      : s_(s), c_(c), o_(o), pty_(pty), signals_(signals) {
    ssh_callbacks_init(&callbacks_);
    callbacks_.userdata = this;
    callbacks_.channel_data_function = on_data;
    callbacks_.channel_exit_signal_function = on_exit_signal;
  }

  stop run() {
    // Data reaches out_ and err_ from whichever libssh call processes its packet: read back
    // from libssh's own buffers instead, data that one call took in while reading the other
    // stream's buffer would wait there with nothing left on the socket to wake poll() for it.
    ssh_set_channel_callbacks(c_, &callbacks_);
    struct detach {
      ssh_channel c;
      ssh_channel_callbacks cb;
      ~detach() { ssh_remove_channel_callbacks(c, cb); }
    } detach_callbacks{c_, &callbacks_};

    for (;;) {
      pump();
      const bool done = finished();
      if (auto r = write_out(o_.out, out_)) return *r;
      if (auto r = write_out(o_.err, err_)) return *r;
      // A channel "closed" by a broken connection has no exit status: that is a loss. A command
      // killed by a signal has none either, but said so; sshd may hang up right after.
      if (done)
        return lost() && ssh_channel_get_exit_status(c_) < 0 && !exit_signalled_ ? stop::lost
                                                                                 : stop::finished;
      if (lost()) return stop::lost;
      send_input();
      if (access_over(o_.watch)) return stop::access_ended;

      const bool want_input = input_open_ && pending_.empty();
      const bool write_pending = (ssh_get_poll_flags(s_) & SSH_WRITE_PENDING) != 0;
      pollfd fds[4] = {
          {ssh_get_fd(s_), static_cast<short>(POLLIN | (write_pending ? POLLOUT : 0)), 0},
          {want_input ? o_.in : -1, POLLIN, 0},
          {signals_.fd(), POLLIN, 0},
          {o_.watch != nullptr ? o_.watch->wait_fd() : -1, POLLIN, 0},
      };
      int n = ::poll(fds, 4, -1);
      if (n < 0 && errno != EINTR) return stop::lost;
      if (n <= 0) continue;
      if (fds[3].revents != 0) return stop::access_ended;
      if (fds[2].revents != 0 && on_signals()) return stop::signalled;
      if ((fds[0].revents & POLLOUT) != 0) ssh_blocking_flush(s_, 0);
      if (fds[1].revents != 0) read_input();
    }
  }

  /// The terminating signal, after stop::signalled.
  [[nodiscard]] int signal() const { return signal_; }

 private:
  // libssh's data callback: everything is taken (returned as consumed), so libssh keeps
  // nothing buffered and grows the window as it goes. Memory stays bounded all the same: each
  // loop turn writes all of it out before it lets libssh read more from the socket.
  static int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                     void* self) {
    auto* loop = static_cast<session_loop*>(self);
    (is_stderr != 0 ? loop->err_ : loop->out_).append(static_cast<const char*>(data), len);
    return static_cast<int>(len);
  }

  // libssh 0.10 keeps no record of an exit-signal (the exit status stays -1): this is it.
  static void on_exit_signal(ssh_session, ssh_channel, const char*, int, const char*, const char*,
                             void* self) {
    static_cast<session_loop*>(self)->exit_signalled_ = true;
  }

  // Processes whatever packets have arrived, without waiting.
  void pump() {
    // Channel polls stop reading packets after the remote EOF; asking for the exit status (not
    // known yet, or the channel would be finished) reads them then.
    if (ssh_channel_is_eof(c_) == 0) {
      ssh_channel_poll(c_, 0);
    } else {
      ssh_channel_get_exit_status(c_);
    }
  }

  // The remote end is done: it closed the channel, or sent EOF and its exit status (which is
  // all that OpenSSH waits for, too).
  bool finished() {
    if (ssh_channel_is_closed(c_) != 0) return true;
    if (ssh_channel_is_eof(c_) == 0) return false;
    return ssh_channel_get_exit_status(c_) != -1 || exit_signalled_ ||
           ssh_channel_is_closed(c_) != 0;
  }

  // The connection broke (the channel did not finish).
  bool lost() {
    return ssh_is_connected(s_) == 0 || (ssh_get_status(s_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
  }

  // Writes all of `data` to a local descriptor, waiting for room with poll() so that the end of
  // access and signals still get through while a reader is slow.
  std::optional<stop> write_out(int fd, std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      pollfd fds[3] = {{fd, POLLOUT, 0},
                       {o_.watch != nullptr ? o_.watch->wait_fd() : -1, POLLIN, 0},
                       {signals_.fd(), POLLIN, 0}};
      int r = ::poll(fds, 3, -1);
      if (access_over(o_.watch)) return stop::access_ended;
      if (r < 0 && errno != EINTR) return stop::local_output;
      if (r > 0 && fds[2].revents != 0 && on_signals()) return stop::signalled;
      if (r <= 0 || fds[0].revents == 0) continue;
      if ((fds[0].revents & (POLLERR | POLLNVAL)) != 0) return stop::local_output;
      ssize_t w = ::write(fd, data.data() + done, std::min(data.size() - done, chunk));
      if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (w <= 0) return stop::local_output;
      done += static_cast<std::size_t>(w);
    }
    data.clear();
    return std::nullopt;
  }

  void read_input() {
    char buf[chunk];
    ssize_t n = ::read(o_.in, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      input_open_ = false;
    } else {
      pending_.assign(buf, static_cast<std::size_t>(n));
    }
  }

  // Sends what was read, no more than the remote window takes (a write beyond it would block),
  // and EOF once the input ended and all of it went out.
  void send_input() {
    while (!pending_.empty()) {
      uint32_t room = ssh_channel_window_size(c_);
      if (room == 0) return;
      int n = ssh_channel_write(
          c_, pending_.data(), static_cast<uint32_t>(std::min<std::size_t>(pending_.size(), room)));
      if (n < 0) {
        // The remote side is gone; what it would have read no longer matters.
        pending_.clear();
        input_open_ = false;
        break;
      }
      if (n == 0) return;
      pending_.erase(0, static_cast<std::size_t>(n));
    }
    if (!input_open_ && !eof_sent_ && ssh_channel_is_open(c_) != 0) {
      ssh_channel_send_eof(c_);
      eof_sent_ = true;
    }
  }

  // True when a terminating signal arrived; follows window size changes.
  bool on_signals() {
    for (int sig : signals_.take()) {
      if (sig != SIGWINCH) {
        signal_ = sig;
        return true;
      }
      if (!pty_) continue;
      winsize ws = window_size(o_.in);
      ssh_channel_change_pty_size(c_, ws.ws_col, ws.ws_row);
    }
    return false;
  }

  ssh_session s_;
  ssh_channel c_;
  const ssh_options& o_;
  bool pty_;
  session_signals& signals_;
  ssh_channel_callbacks_struct callbacks_{};
  std::string out_;  ///< remote stdout not yet written to o_.out
  std::string err_;  ///< remote stderr not yet written to o_.err
  bool input_open_ = true;
  bool eof_sent_ = false;
  std::string pending_;  ///< input read but not yet sent
  int signal_ = 0;
  bool exit_signalled_ = false;  ///< the remote command was killed by a signal
};

/// How a session ended: the status to return, and a signal to raise once everything is back.
struct outcome {
  int status = 255;
  int signal = 0;
};

/// Opens the channel, starts the shell or the command and runs it until one side ends it.
outcome run_channel(ssh_session session, const ssh_options& o) {
  const std::string where = endpoint(o.host, o.port);
  // Signals first, the terminal last: on the way out the terminal is restored before a
  // terminating signal can act again.
  session_signals signals;
  unique_channel channel(ssh_channel_new(session));
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK)
    throw std::runtime_error("cannot open a session on " + where + ": " + ssh_get_error(session));
  const bool interactive = o.command.empty();
  // Like OpenSSH: a PTY for a shell on a terminal, never for a command (there is no -t).
  const bool pty = interactive && ::isatty(o.in) != 0;
  if (pty) {
    const char* term = std::getenv("TERM");
    winsize ws = window_size(o.in);
    // libssh 0.10 sends no terminal modes (it has no ssh_channel_request_pty_size_modes yet):
    // the remote PTY starts with the server's defaults, erase ^? among them, as OpenSSH's
    // would for most terminals.
    if (ssh_channel_request_pty_size(channel.get(),
                                     term != nullptr && *term != '\0' ? term : "xterm", ws.ws_col,
                                     ws.ws_row) != SSH_OK)
      throw std::runtime_error("cannot get a terminal on " + where + ": " + ssh_get_error(session));
  }
  if (interactive) {
    if (ssh_channel_request_shell(channel.get()) != SSH_OK)
      throw std::runtime_error("cannot start a shell on " + where + ": " + ssh_get_error(session));
  } else {
    std::string line;
    for (const auto& w : o.command) line += (line.empty() ? "" : " ") + w;
    if (ssh_channel_request_exec(channel.get(), line.c_str()) != SSH_OK)
      throw std::runtime_error("cannot run the command on " + where + ": " +
                               ssh_get_error(session));
  }

  // From here on nothing may block: the loop polls and libssh only does what is ready.
  ssh_set_blocking(session, 0);
  std::optional<raw_terminal> raw;
  if (pty) raw.emplace(o.in);
  session_loop loop(session, channel.get(), o, pty, signals);
  const stop why = loop.run();

  if (why == stop::finished) {
    const int status = ssh_channel_get_exit_status(channel.get());
    ssh_channel_close(channel.get());
    channel.reset();  // before the disconnect, which frees every channel of the session
    ssh_disconnect(session);
    return {status >= 0 ? status : 255, 0};
  }
  const std::string error = ssh_get_error(session);
  // Access ended, a signal, or the local output went away: hang up now. A command without a
  // PTY gets SIGHUP as a terminal's processes would (sshd ignores it where it does not allow
  // it); a PTY's processes get it from the kernel when sshd closes the PTY.
  if (!pty && why != stop::lost) ssh_channel_request_send_signal(channel.get(), "HUP");
  ssh_channel_close(channel.get());
  channel.reset();
  ssh_disconnect(session);
  raw.reset();
  if (why == stop::access_ended) return {report_access_end(o), 0};
  if (why == stop::lost) {
    const std::string text = "\r\nconnection to " + where + " lost: " + error + "\r\n";
    write_fully(o.err, text.data(), text.size());
  }
  return {255, why == stop::signalled ? loop.signal() : 0};
}

}  // namespace

int run_ssh(const ssh_options& o) {
  init_libssh();
  if (access_over(o.watch)) return report_access_end(o);
  auto known = parse_known_hosts(o.known_hosts, o.host, o.port);
  if (std::none_of(known.begin(), known.end(), [](const known_key& k) { return !k.revoked; }))
    throw std::runtime_error("the broker gave no host key for " + endpoint(o.host, o.port));

  unique_session session = connect(o, known);
  authenticate(session.get(), o);
  if (access_over(o.watch)) return report_access_end(o);
  const outcome result = run_channel(session.get(), o);
  session.reset();
  // The dispositions are back: the caller's handling (or the default) acts on the signal.
  if (result.signal != 0) ::raise(result.signal);
  return result.status;
}

}  // namespace apono::launchers
