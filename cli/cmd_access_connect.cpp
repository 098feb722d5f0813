// `apono access connect ID`: for a database, the local proxy for the grant and a session
// through it, the built-in shell by default or the user's psql; for an SSH host, a session
// with a certificate made for it (built-in client or the user's ssh). Either ends when access
// ends (exit status 3).
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/local_access.hpp"
#include "cli/ssh_access.hpp"
#include "launchers/psql_launcher.hpp"
#include "launchers/shell/shell.hpp"

namespace apono::cli {

namespace {

struct connect_options {
  std::string id;
  std::string client = "builtin";
  std::string database;
  std::string command;
  std::string file;
  std::string host;
  std::string login;
  std::vector<std::string> remote_command;
};

int connect_session(const connect_options& o, const global_options& g) {
  // Fetched once: which kind of session to open depends on what the grant holds.
  auto details = common::details_from_json(
      connect(g).get("/api/v1/access-sessions/" + url_encode(o.id) + "/access-details"));
  bool has_pg = false;
  for (const auto& u : details.units) has_pg = has_pg || u.type == "postgresql";
  bool ssh = has_ssh_unit(details) &&
             (!has_pg || o.client == "ssh" || !o.host.empty() || !o.login.empty());
  if (ssh) {
    if (!o.command.empty() || !o.file.empty() || !o.database.empty())
      throw usage_error("-c, -f and --db are for databases; for SSH give the command after --");
    return connect_ssh(g, details, {o.host, o.login, o.client, o.remote_command});
  }
  if (o.client != "builtin" && o.client != "psql")
    throw usage_error("unknown client '" + o.client + "': use builtin or psql");
  if (!o.command.empty() && !o.file.empty()) throw usage_error("give -c or -f, not both");
  if (!o.remote_command.empty() || !o.host.empty() || !o.login.empty())
    throw usage_error("--host, --login and a command after -- are for SSH access; " +
                      details.request_id + " holds no SSH host");
  local_access_options lo;
  lo.id = o.id;
  lo.database = o.database;
  lo.details = std::move(details);
  local_access session(g, lo);
  const auto& unit = session.unit();
  int status = 0;
  if (o.client == "psql") {
    launchers::psql_options po;
    po.socket_dir = session.socket_dir().string();
    po.database = unit.database;
    po.user = unit.username;
    po.command = o.command;
    po.file = o.file;
    po.watch = &session.watch();
    status = launchers::run_psql(po);
  } else {
    launchers::shell_options so;
    so.conninfo = "host=" + conninfo_value(session.socket_dir().string()) +
                  " port=5432 dbname=" + conninfo_value(unit.database) +
                  " user=" + conninfo_value(unit.username) + " application_name=apono";
    so.command = o.command;
    so.file = o.file;
    so.watch = &session.watch();
    status = launchers::run_shell(so);
  }
  return status;
}

}  // namespace

int run_access_connect(const global_options& g, const std::string& id) {
  connect_options o;
  o.id = id;
  return connect_session(o, g);
}

void setup_access_connect(CLI::App& access, global_options& g, io& /*streams*/) {
  auto o = std::make_shared<connect_options>();
  auto* cmd = access.add_subcommand(
      "connect", "open a database shell or SSH session; it ends when access ends");
  cmd->add_option("id", o->id, "request id, e.g. AR-00012")->required();
  cmd->add_option("remote", o->remote_command,
                  "SSH: after --, a command to run instead of a shell");
  cmd->add_option("--client", o->client, "builtin, psql (databases) or ssh (hosts)")
      ->capture_default_str();
  cmd->add_option("--host", o->host, "SSH host to open (default: the grant's only one)");
  cmd->add_option("--login", o->login, "SSH login to use (default: the grant's only one)");
  cmd->add_option("--db", o->database, "database to open (default: the grant's first)");
  cmd->add_option("-c,--command", o->command, "run one SQL command and exit");
  cmd->add_option("-f,--file", o->file, "run the commands in FILE and exit");
  cmd->callback([o, &g] {
    if (int status = connect_session(*o, g); status != 0) throw exit_status(status);
  });
}

}  // namespace apono::cli
