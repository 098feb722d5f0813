// libpq's asynchronous API behind waiter::wait, so no call here blocks on the network alone.
#include "launchers/shell/connection.hpp"

#include <poll.h>

#include <cstring>

namespace apono::launchers::shell {

connection::~connection() {
  if (cancel_ != nullptr) PQfreeCancel(cancel_);
  if (conn_ != nullptr) PQfinish(conn_);
}

outcome connection::connect(const std::string& conninfo, const char* client_encoding) {
  // expand_dbname lets `dbname` carry a whole conninfo string or URI, as psql's -d does.
  const char* keys[] = {"dbname", "fallback_application_name", "client_encoding", nullptr};
  const char* values[] = {conninfo.c_str(), "apono", client_encoding, nullptr};
  conn_ = PQconnectStartParams(keys, values, 1);
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) return outcome::failed;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  for (;;) {
    if (state == PGRES_POLLING_OK) break;
    if (state == PGRES_POLLING_FAILED) return outcome::failed;
    wake w = wait_.wait(PQsocket(conn_), state == PGRES_POLLING_READING ? POLLIN : POLLOUT);
    if (w == wake::access_ended) return outcome::access_ended;
    if (w == wake::interrupted) return outcome::failed;
    state = PQconnectPoll(conn_);
  }
  cancel_ = PQgetCancel(conn_);
  return outcome::ok;
}

std::string connection::error() const {
  std::string e = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
  while (!e.empty() && e.back() == '\n') e.pop_back();
  if (e.empty()) e = "connection canceled";
  return e;
}

bool connection::send(const std::string& sql) {
  interrupted_ = false;
  const bool sent = PQsendQuery(conn_, sql.c_str()) == 1;
  reported_ = sent ? std::strlen(PQerrorMessage(conn_)) : 0;
  return sent;
}

outcome connection::next_result(pg_result& out) {
  out.reset();
  while (PQisBusy(conn_) != 0) {
    if (read_input() == outcome::access_ended) return outcome::access_ended;
    if (PQstatus(conn_) == CONNECTION_BAD) return outcome::lost;
  }
  out.reset(PQgetResult(conn_));
  reported_ = std::strlen(PQerrorMessage(conn_));
  return outcome::ok;
}

bool connection::read_idle() {
  if (conn_ == nullptr || PQconsumeInput(conn_) == 0) return false;
  // PQconsumeInput only reads; parsing, where an idle connection's notices are handed to the
  // notice processor, happens in PQisBusy.
  (void)PQisBusy(conn_);
  return PQstatus(conn_) != CONNECTION_BAD;
}

std::string connection::lost_message() const {
  std::string all = PQerrorMessage(conn_);
  return reported_ <= all.size() ? all.substr(reported_) : all;
}

outcome connection::read_input() {
  for (;;) {
    const int fd = PQsocket(conn_);
    if (fd < 0) return outcome::ok;
    wake w = wait_.wait(fd, POLLIN);
    if (w == wake::access_ended) return outcome::access_ended;
    if (w == wake::interrupted) {
      interrupted_ = true;
      cancel();
      continue;
    }
    (void)PQconsumeInput(conn_);
    return outcome::ok;
  }
}

void connection::cancel() {
  if (cancel_ == nullptr) return;
  char err[256];
  (void)PQcancel(cancel_, err, sizeof err);
}

}  // namespace apono::launchers::shell
