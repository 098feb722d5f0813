# shellcheck shell=bash disable=SC2154,SC2034  # the caller's variables in, results out
# Shell helpers for the benchmark scripts beside this file; sourced, not run. The caller sets
# `work` (its temporary directory), `aponod_bin` and `apono_bin`, and stops what it started
# in its own EXIT trap (stop_pid).

say() { printf '%s\n' "$*" >&2; }
die() { say "${bench_name:-bench}: $*"; exit 1; }

# SIGTERM (or the signal given), then SIGKILL after 5 s; waits for it when it is our child and
# sets stopped_status to its exit status (empty when it was not running).
stop_pid() {
  local pid=$1 sig=${2:-TERM}
  stopped_status=""
  [ -n "$pid" ] || return 0
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -s KILL "$pid" 2>/dev/null || true
  stopped_status=0
  wait "$pid" 2>/dev/null || stopped_status=$?
}

# A throwaway PostgreSQL in $work/pg (scripts/dev-postgres), restarted with extra server
# settings when some are given ("-c name=value ..."; dev-postgres fixes max_connections=300 on
# its command line, which no configuration file can raise). Sets pg_url, pg_port, pg_pw.
start_postgres() {
  pg_url=$(scripts/dev-postgres start "$work/pg")
  pg_port=$(cat "$work/pg/port")
  pg_pw=$(cat "$work/pg/pw")
  if [ $# -gt 0 ]; then
    scripts/dev-postgres stop "$work/pg"
    local bin
    bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    local as_pg=()
    [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
    "${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pg -c fsync=off $*" \
      start >/dev/null || { cat "$work/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
}
# psql as the superuser over TCP.
pg_admin() { PGPASSWORD=$pg_pw psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

# aponod --dev in $work/aponod against $pg_url; waits until its API listens. Sets aponod_pid,
# creds (the dev credentials file), api_url, ca_file.
start_aponod() {  # [extra aponod --dev arguments, e.g. --store URL]
  "$aponod_bin" --dev --data-dir "$work/aponod" --listen 127.0.0.1:0 --pg-target "$pg_url" "$@" \
    >"$work/aponod.log" 2>&1 &
  aponod_pid=$!
  creds=$work/aponod/dev-credentials.json
  for _ in $(seq 1 300); do
    [ -f "$creds" ] && [ "$(jq -r .api_url "$creds")" != null ] && break
    kill -0 "$aponod_pid" 2>/dev/null || { cat "$work/aponod.log" >&2; die "aponod exited"; }
    sleep 0.1
  done
  [ "$(jq -r .api_url "$creds")" != null ] || { cat "$work/aponod.log" >&2; die "aponod did not start"; }
  api_url=$(jq -r .api_url "$creds")
  ca_file=$(jq -r .ca_file "$creds")
}
dev_token() { jq -r --arg u "$1" '.users[] | select(.name == $u) | .token' "$creds"; }

# `apono login` as USER with a private config home in $work/config-USER; later apono calls
# need XDG_CONFIG_HOME=$work/config-USER (as_user does that).
apono_login() {
  mkdir -p "$work/config-$1"
  chmod 0700 "$work/config-$1"
  XDG_CONFIG_HOME=$work/config-$1 "$apono_bin" login --server "$api_url" --ca-file "$ca_file" \
    --token "$(dev_token "$1")" >/dev/null
}
as_user() { local u=$1; shift; XDG_CONFIG_HOME=$work/config-$u "$apono_bin" "$@"; }

# `apono access proxy ID` as USER with its unix socket in DIR (made 0700) and a TCP port;
# output in $work/proxy-NAME.{out,log}. Waits until it serves. Sets proxy_started_pid,
# proxy_port and proxy_pw (the one-time password for TCP).
start_proxy() {  # USER ID DIR NAME
  local user=$1 id=$2 dir=$3 name=$4
  mkdir -p "$dir"
  chmod 0700 "$dir"
  XDG_CONFIG_HOME=$work/config-$user "$apono_bin" access proxy "$id" --port 0 --unix-dir "$dir" \
    >"$work/proxy-$name.out" 2>"$work/proxy-$name.log" &
  proxy_started_pid=$!
  for _ in $(seq 1 300); do
    grep -q '^Press Ctrl-C' "$work/proxy-$name.out" && break
    kill -0 "$proxy_started_pid" 2>/dev/null ||
      { cat "$work/proxy-$name.out" "$work/proxy-$name.log" >&2; die "the proxy exited"; }
    sleep 0.1
  done
  grep -q '^Press Ctrl-C' "$work/proxy-$name.out" ||
    { cat "$work/proxy-$name.out" "$work/proxy-$name.log" >&2; die "the proxy did not start"; }
  proxy_port=$(awk '$1 == "Port:" {print $2}' "$work/proxy-$name.out")
  proxy_pw=$(awk '$1 == "Password:" {print $2}' "$work/proxy-$name.out")
  [ -S "$dir/.s.PGSQL.5432" ] || die "the proxy has no socket in $dir"
}

# Memory of PID once a second until it exits or the sampler is stopped: lines of
# "epoch_seconds VmRSS_kB VmHWM_kB". Sets sampler_pid.
start_rss_sampler() {  # PID FILE
  local pid=$1 file=$2
  (
    while [ -r "/proc/$pid/status" ]; do
      awk -v t="$(date +%s.%N)" '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {if (r) print t, r, h}' \
        "/proc/$pid/status" 2>/dev/null
      sleep 1
    done
  ) >>"$file" &
  sampler_pid=$!
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system) of PID in seconds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
