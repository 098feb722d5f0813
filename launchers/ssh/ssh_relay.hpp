// `apono access ssh-relay`, the ProxyCommand of the Host blocks `access use --ssh-config` writes:
// the byte pipe between ssh (on our stdin and stdout) and the grant's host, cut the moment the
// grant ends, so that scp, sftp, rsync, git and editors that run ssh lose access like a shell.
#pragma once

#include <string>

#include "proxy/grant_watch.hpp"

namespace apono::launchers {

/// How a relay ended.
enum class relay_end {
  closed,        ///< either side closed the connection (the normal end of a session)
  access_ended,  ///< the watch ended first; both sides were closed at once
};

/// Connects a TCP socket to `host`:`port` (every address getaddrinfo gives, in turn), giving up
/// after 30 s or as soon as `watch` ends (then returns -1 with `error` empty). Returns the
/// socket, or -1 with `error` saying why ("cannot connect to HOST:PORT: REASON").
[[nodiscard]] int connect_tcp(const std::string& host, int port, const proxy::grant_watch* watch,
                              std::string& error);

/// Copies bytes from `in_fd` to `sock` and from `sock` to `out_fd` (all made non-blocking) until
/// the host closes its side, or `out_fd` or `sock` fails, or `watch` (may be null) ends. Never
/// blocks past the end: the watch is polled with the data. Closes nothing, so that the caller
/// can say why before close_relay() ends the session under ssh.
[[nodiscard]] relay_end relay_stream(int in_fd, int out_fd, int sock,
                                     const proxy::grant_watch* watch);

/// Shuts down and closes `sock` and closes `out_fd`: ssh on the other end of the pipe sees the
/// connection end at once, whatever it was doing.
void close_relay(int out_fd, int sock);

}  // namespace apono::launchers
