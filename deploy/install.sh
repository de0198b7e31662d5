#!/bin/bash
# Puts one chat VM together: the `chat` executable, its systemd unit and flags,
# nginx's TCP balancer config, keepalived's VIP config and check script.
# Run it as root on each VM (README "Deploy on two VMs").
#
#   deploy/install.sh --role master|backup --node ID --iface IFACE \
#       --vip ADDR/PREFIX --nodes HOST:PORT,HOST:PORT \
#       --mysql URL (--redis URL | --redis-sentinels LIST) [options]
#   deploy/install.sh --upgrade [--binary FILE] [--tls-cert F --tls-key F]
#
# Run again with changed options, it rewrites the files (keeping a .bak of
# each it changes) and restarts only what changed: the chat node as in an
# upgrade, nginx by a reload (connections stay). It never restarts a running
# keepalived (that would move the VIP): when keepalived's config changed it
# says so, and you reload keepalived when it suits you.
#
# --upgrade replaces the executable (the previous one stays as
# /usr/local/bin/chat.previous) and restarts only the chat node: with
# /run/chat-maintenance present, so that keepalived's check ignores the
# node while it restarts and the VIP stays put; SIGTERM drains the node (its
# clients reconnect through nginx to the other node with their token); then
# it waits until /healthz says the node is up, and then for nginx's
# fail_timeout (--settle), after which every nginx sends clients to this node
# again: only then is the next VM's node safe to restart. No config file,
# nginx or keepalived is touched.
#
# Options (defaults in brackets):
#   --vrid N            VRRP virtual_router_id, same on both VMs        [51]
#   --listen-port P     nginx's port on the VIP, the one clients use     [8000]
#   --chat-port P       this chat node's client port                     [6000]
#   --web-listen-port P nginx's HTTPS port for browsers (/ws, the web   [8443]
#                       client), on the VIP; 0: no http block
#   --web-port P        the chat nodes' web port                    [chat port + 80]
#   --admin-port P      this chat node's admin HTTP port                 [6001]
#   --admin-host ADDR   its address: /healthz and /metrics have no       [127.0.0.1]
#                       authentication; 0.0.0.0 or this VM's address
#                       lets a Prometheus elsewhere scrape it
#   --tls-cert FILE     PEM certificate (deploy/make-certs.sh's chat.pem): the node
#   --tls-key FILE      serves TLS; installed as /etc/chat/tls/chat.pem and .key.
#                       Run again without them, the installed pair stays in use
#   --no-tls            plain TCP: chat.env names no certificate
#   --redis-sentinels H:P,H:P,...  Redis Sentinel instead of --redis: the
#                       sentinels that name the Redis primary
#   --redis-master NAME the primary's name in sentinel.conf              [chat]
#   --redis-password-file FILE  the Redis password (requirepass), alone on
#                       one line; installed as /etc/chat/redis-password
#   --binary FILE       the executable (npm run build writes it)         [dist/chat]
#   --check-mode M      what fails the VM over besides a dead nginx:     [strict]
#                       strict: /healthz not 200; alive: /healthz not
#                       answering (503 is fine); nginx: nothing else
#   --wait SECONDS      how long a restarted chat node may take to        [60]
#                       answer /healthz before install.sh gives up
#   --settle SECONDS    then how long nginx may still count the node as   [fail_timeout
#                       failed (its connects were refused meanwhile)      in chat-stream.conf]
#   --root DIR          stage everything under DIR instead of /, with the
#                       paths inside the configs pointing into DIR; creates
#                       no user and starts nothing, printing what it would
#                       run (the HA lab uses this)
#   --no-start          install, validate, but do not (re)start services
#
# Needs: nginx with the stream module and keepalived
# (Debian/Ubuntu: apt-get install nginx-light libnginx-mod-stream keepalived).
set -euo pipefail
umask 022 # configs and the check script must not be group- or world-writable
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  sed -n '2,61p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

role="" node="" iface="" vip="" nodes="" mysql="" redis="" tls_cert="" tls_key=""
redis_sentinels="" redis_master="" redis_password_file=""
web_listen_port=8443 web_port=""
vrid=51 listen_port=8000 chat_port=6000 admin_port=6001 admin_host=127.0.0.1
binary="$here/../dist/chat" check_mode=strict root="" start=1 upgrade=0 wait_s=60 settle_s="" no_tls=0
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || case "$1" in --no-start | --upgrade | --no-tls | -h | --help) ;; *) echo "install.sh: $1 needs a value" >&2; usage ;; esac
  case "$1" in
    --role) role=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    --iface) iface=$2; shift 2 ;;
    --vip) vip=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --mysql) mysql=$2; shift 2 ;;
    --redis) redis=$2; shift 2 ;;
    --redis-sentinels) redis_sentinels=$2; shift 2 ;;
    --redis-master) redis_master=$2; shift 2 ;;
    --redis-password-file) redis_password_file=$2; shift 2 ;;
    --vrid) vrid=$2; shift 2 ;;
    --listen-port) listen_port=$2; shift 2 ;;
    --chat-port) chat_port=$2; shift 2 ;;
    --web-listen-port) web_listen_port=$2; shift 2 ;;
    --web-port) web_port=$2; shift 2 ;;
    --admin-port) admin_port=$2; shift 2 ;;
    --admin-host) admin_host=$2; shift 2 ;;
    --tls-cert) tls_cert=$2; shift 2 ;;
    --tls-key) tls_key=$2; shift 2 ;;
    --no-tls) no_tls=1; shift ;;
    --binary) binary=$2; shift 2 ;;
    --check-mode) check_mode=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --settle) settle_s=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --upgrade) upgrade=1; shift ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
if { [ -n "$tls_cert" ] && [ -z "$tls_key" ]; } || { [ -z "$tls_cert" ] && [ -n "$tls_key" ]; }; then
  die "--tls-cert and --tls-key go together"
fi
[ "$no_tls" = 0 ] || [ -z "$tls_cert" ] || die "--no-tls and --tls-cert contradict each other"
for f in "$tls_cert" "$tls_key"; do
  [ -z "$f" ] || grep -q -- '-----BEGIN ' "$f" 2>/dev/null || die "$f is not a readable PEM file"
done
[[ $wait_s =~ ^[0-9]+$ ]] || die "--wait wants a number of seconds"
[[ $settle_s =~ ^[0-9]*$ ]] || die "--settle wants a number of seconds"
if [ "$upgrade" = 0 ]; then
  [ -n "$role" ] && [ -n "$node" ] && [ -n "$iface" ] && [ -n "$vip" ] && [ -n "$nodes" ] &&
    [ -n "$mysql" ] && [ -n "$redis$redis_sentinels" ] || { echo "install.sh: missing a required option" >&2; usage; }
  [ -z "$redis" ] || [ -z "$redis_sentinels" ] || die "--redis and --redis-sentinels both name Redis: give one of them"
  [ -z "$redis_master" ] || [ -n "$redis_sentinels" ] || die "--redis-master goes with --redis-sentinels"
  if [ -n "$redis_sentinels" ]; then
    IFS=, read -r -a sentinel_list <<<"$redis_sentinels"
    for n in "${sentinel_list[@]}"; do [[ $n =~ ^[^:[:space:]]+:[0-9]+$ ]] || die "--redis-sentinels wants HOST:PORT,HOST:PORT,..., got '$n'"; done
    redis_master=${redis_master:-chat}
    [[ $redis_master =~ ^[A-Za-z0-9_.-]+$ ]] || die "--redis-master: letters, digits, _ . - only"
  fi
  [ -z "$redis_password_file" ] || [ -s "$redis_password_file" ] || die "--redis-password-file $redis_password_file is missing or empty"
  case "$role" in master | backup) ;; *) die "--role is master or backup" ;; esac
  case "$check_mode" in strict | alive | nginx) ;; *) die "--check-mode is strict, alive or nginx" ;; esac
  [[ $vip =~ ^[0-9]+(\.[0-9]+){3}/[0-9]+$ ]] || die "--vip wants ADDR/PREFIX, e.g. 10.0.0.100/24"
  [[ $vrid =~ ^[0-9]+$ ]] && [ "$vrid" -ge 1 ] && [ "$vrid" -le 255 ] || die "--vrid is 1-255"
  [[ $node =~ ^[A-Za-z0-9_.-]+$ ]] || die "--node: letters, digits, _ . - only"
  for p in "$listen_port" "$chat_port" "$admin_port"; do
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port $p"
  done
  web_port=${web_port:-$((chat_port + 80))}
  for p in "$web_port" "$web_listen_port"; do
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -le 65535 ] || die "bad port $p"
  done
  [ "$web_port" != 0 ] || [ "$web_listen_port" = 0 ] || die "--web-port 0 leaves nothing for nginx's --web-listen-port to proxy: give --web-listen-port 0 too"
  [[ $admin_host =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "--admin-host wants an IPv4 address, e.g. 127.0.0.1 or 0.0.0.0"
  IFS=, read -r -a node_list <<<"$nodes"
  for n in "${node_list[@]}"; do [[ $n =~ ^[^:[:space:]]+:[0-9]+$ ]] || die "--nodes wants HOST:PORT,HOST:PORT, got '$n'"; done
else
  [ -z "$role$node$iface$vip$nodes$mysql$redis" ] ||
  [ -z "$redis_sentinels$redis_master$redis_password_file" ] ||
    die "--upgrade changes only the executable (and --tls-cert/--tls-key); run without --upgrade to change settings"
  [ -z "$role$node$iface$vip$nodes$mysql$redis" ] ||
    die "--upgrade changes only the executable (and --tls-cert/--tls-key); run without --upgrade to change settings"
fi
[ -x "$binary" ] || die "no executable at $binary (run \`npm run build\` first)"
[ "$(id -u)" = 0 ] || [ -n "$root" ] || die "run as root (or stage with --root DIR)"

if [ -z "$root" ] && [ "$upgrade" = 0 ]; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is not installed (apt-get install nginx-light libnginx-mod-stream)"
  command -v keepalived >/dev/null || [ -x /usr/sbin/keepalived ] || die "keepalived is not installed (apt-get install keepalived)"
fi

# Where things go, and the paths the configs name (the same unless --root).
R=${root:+$(mkdir -p "$root" && cd "$root" && pwd)}
etc="$R/etc"
bin="$R/usr/local/bin/chat"
env_file="$etc/chat/chat.env"
tls_dir="$etc/chat/tls"
nginx_pid="$R/run/nginx.pid"
log_dir="$R/var/log/nginx"
check_script="$etc/keepalived/check-chat.sh"
# While this file exists (for at most 10 minutes), the keepalived check
# ignores the local chat node: a planned restart moves no VIP.
maintenance="$R/run/chat-maintenance"

# Service control. With --root nothing runs on this machine's systemd: the
# commands are printed, or given to CHAT_INSTALL_SYSTEMCTL when that names a
# program (the install script's own test records them that way).
systemctl_cmd=${CHAT_INSTALL_SYSTEMCTL:-}
[ -z "$root" ] && systemctl_cmd=systemctl
svc() {
  if [ -n "$systemctl_cmd" ]; then "$systemctl_cmd" "$@"; else echo "  (staged) would run: systemctl $*"; fi
}
active() { [ -n "$systemctl_cmd" ] && "$systemctl_cmd" is-active --quiet "$1"; }

# Files this run changed; what restarts depends on them.
changed=()
was_changed() {
  local f
  for f in "${changed[@]}"; do case "$f" in "$1") return 0 ;; esac; done
  return 1
}

# put SOURCE DEST MODE: installs a file, keeping a replaced one as DEST.bak.
put() {
  mkdir -p "$(dirname "$2")"
  if [ -e "$2" ] && cmp -s "$1" "$2"; then
    chmod "$3" "$2"
    return 0
  fi
  [ -e "$2" ] && cp -p "$2" "$2.bak"
  install -m "$3" "$1" "$2.new"
  mv -f "$2.new" "$2"
  changed+=("$2")
  echo "  $2"
}

# sed replacement text: escape \, & and the | delimiter.
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# render TEMPLATE DEST MODE: fills in every @KEY@, then put.
render() {
  local tmp
  tmp=$(mktemp)
  # One `server` line per chat node: the @NODE1@ line is the pattern, the
  # template's other node lines are dropped; @WEBNODE1@ the same with each
  # node's web port. Lines marked @TLS_ONLY@ stay only when serving TLS.
  awk -v nodes="$nodes" -v web_port="$web_port" -v tls="$serve_tls" '
    /@TLS_ONLY@/ { if (tls == "") next; sub(/ *# *@TLS_ONLY@/, "") }
    /@NODE1@/ { n = split(nodes, list, ","); for (i = 1; i <= n; i++) { line = $0; sub(/@NODE1@/, list[i], line); print line }; next }
    /@WEBNODE1@/ { n = split(nodes, list, ","); for (i = 1; i <= n; i++) { line = $0; host = list[i]; sub(/:[0-9]+$/, ":" web_port, host); sub(/@WEBNODE1@/, host, line); print line }; next }
    /@(WEB)?NODE[0-9]+@/ { next }
    { print }' "$1" |
    sed -e "s|@ROUTER_ID@|$(esc "chat_$node")|g" \
      -e "s|@NODE_ID@|$(esc "$node")|g" \
      -e "s|@INTERFACE@|$(esc "$iface")|g" \
      -e "s|@VRID@|$(esc "$vrid")|g" \
      -e "s|@VIP@|$(esc "$vip")|g" \
      -e "s|@CHECK_SCRIPT@|$(esc "$check_script $nginx_pid $admin_addr:$admin_port $check_mode $maintenance")|g" \
      -e "s|@LISTEN_PORT@|$(esc "$listen_port")|g" \
      -e "s|@LOG_DIR@|$(esc "$log_dir")|g" \
      -e "s|@CHAT_PORT@|$(esc "$chat_port")|g" \
      -e "s|@WEB_PORT@|$(esc "$web_port")|g" \
      -e "s|@WEB_LISTEN_PORT@|$(esc "$web_listen_port")|g" \
      -e "s|@WEB_LISTEN_TLS@|$(esc "${serve_tls:+ssl}")|g" \
      -e "s|@WEB_SCHEME@|$(if [ -n "$serve_tls" ]; then echo https; else echo http; fi)|g" \
      -e "s|@ADMIN_PORT@|$(esc "$admin_port")|g" \
      -e "s|@ADMIN_HOST@|$(esc "$admin_host")|g" \
      -e "s|@TLS_CERT@|$(esc "${serve_tls:+$tls_dir/chat.pem}")|g" \
      -e "s|@TLS_KEY@|$(esc "${serve_tls:+$tls_dir/chat.key}")|g" \
      -e "s|@MYSQL_URL@|$(esc "$mysql")|g" \
      -e "s|@REDIS_URL@|$(esc "$redis")|g" \
      -e "s|@REDIS_SENTINELS@|$(esc "$redis_sentinels")|g" \
      -e "s|@REDIS_MASTER@|$(esc "$redis_master")|g" \
      -e "s|@REDIS_PASSWORD_FILE@|$(esc "${redis_password_file:+$etc/chat/redis-password}")|g" >"$tmp"
  if grep -n '@[A-Z_0-9]*@' "$tmp" >&2; then rm -f "$tmp"; die "unfilled placeholder in $1"; fi
  put "$tmp" "$2" "$3"
  rm -f "$tmp"
}

# One CHAT_* value of the installed chat.env.
env_value() { sed -n "s/^$1=//p" "$env_file" | tail -n 1; }

# The node answers /healthz with 200 and has finished starting (bash's
# /dev/tcp, like check-chat.sh: no curl needed).
healthy() {
  local reply
  reply=$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$0" >&3
    cat <&3' "$1" "$2" 2>/dev/null) || return 1
  [[ $reply == "HTTP/1.1 200"* && $reply != *'"starting":true'* ]]
}

# Restarts (or starts) the chat node without moving the VIP: the maintenance
# flag is up while systemd stops it (SIGTERM: it answers what is in flight,
# says shutting_down, ends its sessions) and starts it, until /healthz is up.
restart_chat() {
  local verb=$1 host port deadline
  host=$(env_value CHAT_ADMIN_HOST)
  port=$(env_value CHAT_ADMIN_PORT)
  [ "$host" = 0.0.0.0 ] || [ -z "$host" ] && host=127.0.0.1
  mkdir -p "$(dirname "$maintenance")"
  touch "$maintenance"
  trap 'rm -f "$maintenance"' EXIT
  svc "$verb" chat
  if [ -z "$systemctl_cmd" ] || [ "$wait_s" = 0 ] || [ -z "$port" ] || [ "$port" = 0 ]; then
    rm -f "$maintenance"
    return 0
  fi
  deadline=$((SECONDS + wait_s))
  until healthy "$host" "$port"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      rm -f "$maintenance"
      echo "install.sh: the chat node did not answer /healthz on $host:$port within $wait_s s (journalctl -u chat says why)." >&2
      [ -e "$bin.previous" ] && echo "  roll back with: $0 --upgrade --binary $bin.previous" >&2
      exit 1
    fi
    sleep 0.5
  done
  rm -f "$maintenance"
  trap - EXIT
  echo "chat: node up: $host:$port/healthz answers 200"
  # While the node was down, nginx (on every VM) refused its share of the
  # reconnecting clients to it and may have marked it failed: for
  # fail_timeout it sends nobody there. Restarting the other VM's node within
  # that time would leave nginx no node to send clients to.
  # A node that was not running drained nobody.
  local settle=$settle_s
  [ "$verb" = start ] && settle=0
  if [ -z "$settle" ]; then
    settle=$(sed -n 's/.*fail_timeout=\([0-9]*\)s.*/\1/p' "$etc/nginx/chat-stream.conf" 2>/dev/null | head -n 1)
    settle=${settle:-10}
  fi
  if [ "$settle" -gt 0 ]; then
    echo "chat: waiting ${settle} s (nginx's fail_timeout) until every nginx sends clients to this node again"
    sleep "$settle"
  fi
}

# The executable, replaced in one rename; the one it replaces stays as
# chat.previous for a rollback.
install_binary() {
  mkdir -p "$(dirname "$bin")"
  if [ -e "$bin" ] && cmp -s "$binary" "$bin"; then return 0; fi
  install -m 0755 "$binary" "$bin.new"
  [ -e "$bin" ] && cp -p "$bin" "$bin.previous"
  mv -f "$bin.new" "$bin"
  changed+=("$bin")
  echo "  $bin ($("$bin" --version 2>/dev/null || echo "version unknown"))"
}

install_tls() {
  [ -n "$tls_cert" ] || return 0
  put "$tls_cert" "$tls_dir/chat.pem" 0644
  put "$tls_key" "$tls_dir/chat.key" 0640
  # The node runs as user chat: the key is readable by its group, nobody else.
  [ -z "$root" ] && chgrp chat "$tls_dir/chat.key"
  return 0
}

if [ "$upgrade" = 1 ]; then
  [ -e "$bin" ] && [ -e "$env_file" ] || die "no chat installed under ${R:-/} ($bin, $env_file): run the full install first"
  new=$("$binary" --version 2>&1) || die "$binary does not run here: $new"
  echo "chat: upgrading under ${R:-/}: $("$bin" --version 2>/dev/null || echo "unknown version") -> $new"
  if [ -n "$tls_cert" ]; then
    [ "$(env_value CHAT_TLS_CERT)" = "$tls_dir/chat.pem" ] && [ "$(env_value CHAT_TLS_KEY)" = "$tls_dir/chat.key" ] ||
      die "this node does not serve TLS from $tls_dir yet: run the full install with --tls-cert and --tls-key"
  fi
  install_binary
  install_tls
  if [ "$start" = 1 ]; then
    restart_chat restart
    echo "chat: upgraded; nginx and keepalived untouched"
  else
    echo "chat: installed; restart the node with: systemctl restart chat"
  fi
  exit 0
fi

# TLS: the pair given now, or the one installed before (a run without
# --tls-cert must not quietly switch a TLS node to plain TCP), unless --no-tls.
serve_tls=""
if [ -n "$tls_cert" ]; then
  serve_tls=1
elif [ "$no_tls" = 0 ] && [ -e "$env_file" ] && [ "$(env_value CHAT_TLS_CERT)" = "$tls_dir/chat.pem" ] &&
  [ -e "$tls_dir/chat.pem" ] && [ -e "$tls_dir/chat.key" ]; then
  serve_tls=1
  echo "chat: keeping the installed TLS pair in $tls_dir (--no-tls turns TLS off)"
fi

# Where the check script (and the operator) reach the admin port on this VM.
admin_addr=$admin_host
[ "$admin_host" = 0.0.0.0 ] && admin_addr=127.0.0.1

echo "chat: installing node $node ($role) under ${R:-/}"
mkdir -p "$R/run" "$log_dir" "$etc/chat" "$etc/systemd/system" "$etc/nginx" "$etc/keepalived"
install_binary

if [ -z "$root" ] && ! id chat >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/chat --no-create-home --shell /usr/sbin/nologin chat
  echo "  user chat"
fi
render "$here/systemd/chat.env" "$env_file" 0640
[ -z "$root" ] && chgrp chat "$env_file"
if [ -n "$redis_password_file" ]; then
  put "$redis_password_file" "$etc/chat/redis-password" 0640
  [ -z "$root" ] && chgrp chat "$etc/chat/redis-password"
fi
install_tls
render "$here/systemd/chat.service" "$etc/systemd/system/chat.service" 0644

render "$here/nginx/chat-stream.conf" "$etc/nginx/chat-stream.conf" 0644
if [ "$web_listen_port" != 0 ]; then
  render "$here/nginx/chat-web.conf" "$etc/nginx/chat-web.conf" 0644
else
  # No http block: an empty file keeps nginx.conf's include valid.
  printf '# deploy/install.sh --web-listen-port 0: no http block\n' >"$etc/nginx/chat-web.conf.tmp"
  put "$etc/nginx/chat-web.conf.tmp" "$etc/nginx/chat-web.conf" 0644
  rm -f "$etc/nginx/chat-web.conf.tmp"
fi
if [ -z "$root" ]; then
  [ -e /etc/nginx/nginx.conf.before-chat ] || cp -p /etc/nginx/nginx.conf /etc/nginx/nginx.conf.before-chat 2>/dev/null || true
  put "$here/nginx/nginx.conf" /etc/nginx/nginx.conf 0644
fi

# The check script must be root-owned and in a directory only root can write,
# or keepalived (enable_script_security) silently refuses to run it.
put "$here/keepalived/check-chat.sh" "$check_script" 0755
render "$here/keepalived/keepalived-$role.conf" "$etc/keepalived/keepalived.conf" 0644

if [ -z "$root" ]; then nginx -t -q; fi
# The keepalived config is checked by the operator (deploy/README.md, step 6):
# this script never runs keepalived itself, only systemd does, at start.
was_changed "$etc/systemd/system/chat.service" && svc daemon-reload
svc enable chat nginx keepalived
if [ "$start" = 0 ]; then
  echo "chat: installed; start with: systemctl start chat nginx keepalived"
  exit 0
fi
if ! active chat; then
  restart_chat start
elif was_changed "$bin" || was_changed "$env_file" || was_changed "$etc/systemd/system/chat.service" || was_changed "$etc/chat/redis-password" ||
  was_changed "$tls_dir/chat.pem" || was_changed "$tls_dir/chat.key"; then
  restart_chat restart
fi
if ! active nginx; then
  svc start nginx
elif was_changed "$etc/nginx/chat-stream.conf" || was_changed "$etc/nginx/chat-web.conf" || was_changed /etc/nginx/nginx.conf; then
  svc reload nginx
fi
if ! active keepalived; then
  svc start keepalived
elif was_changed "$etc/keepalived/keepalived.conf" || was_changed "$check_script"; then
  # A restart hands the VIP to the other VM and back; apply it when it suits.
  # Only a hint for this VM's operator: this script starts keepalived through systemd alone (svc).
  echo "chat: keepalived's config changed; it is running and was left alone. Check it with keepalived's"
  echo "  --config-test on /etc/keepalived/keepalived.conf (deploy/README.md), then: systemctl reload keepalived"
fi
echo "chat: done; check with: curl -s $admin_addr:$admin_port/healthz; ip -br addr show $iface"
