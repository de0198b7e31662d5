#!/bin/bash
# Puts one chat VM together: the `chat` executable, its systemd unit and flags,
# nginx's TCP balancer config, keepalived's VIP config and check script.
# Run it as root on each VM (README "Deploy on two VMs"); it is safe to run
# again after changing a flag or the executable.
#
#   deploy/install.sh --role master|backup --node ID --iface IFACE \
#       --vip ADDR/PREFIX --nodes HOST:PORT,HOST:PORT \
#       --mysql URL --redis URL [options]
#
# Options (defaults in brackets):
#   --vrid N            VRRP virtual_router_id, same on both VMs        [51]
#   --listen-port P     nginx's port on the VIP, the one clients use     [8000]
#   --chat-port P       this chat node's client port                     [6000]
#   --admin-port P      this chat node's admin HTTP port                 [6001]
#   --admin-host ADDR   its address: /healthz and /metrics have no       [127.0.0.1]
#                       authentication; 0.0.0.0 or this VM's address
#                       lets a Prometheus elsewhere scrape it
#   --binary FILE       the executable (npm run build writes it)         [dist/chat]
#   --check-mode M      what fails the VM over besides a dead nginx:     [strict]
#                       strict: /healthz not 200; alive: /healthz not
#                       answering (503 is fine); nginx: nothing else
#   --root DIR          stage everything under DIR instead of /, with the
#                       paths inside the configs pointing into DIR; creates
#                       no user and starts nothing (the HA lab uses this)
#   --no-start          install, validate, but do not (re)start services
#
# Needs: nginx with the stream module and keepalived
# (Debian/Ubuntu: apt-get install nginx-light libnginx-mod-stream keepalived).
set -euo pipefail
umask 022 # configs and the check script must not be group- or world-writable
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

role="" node="" iface="" vip="" nodes="" mysql="" redis=""
vrid=51 listen_port=8000 chat_port=6000 admin_port=6001 admin_host=127.0.0.1
binary="$here/../dist/chat" check_mode=strict root="" start=1
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || case "$1" in --no-start | -h | --help) ;; *) echo "install.sh: $1 needs a value" >&2; usage ;; esac
  case "$1" in
    --role) role=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    --iface) iface=$2; shift 2 ;;
    --vip) vip=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --mysql) mysql=$2; shift 2 ;;
    --redis) redis=$2; shift 2 ;;
    --vrid) vrid=$2; shift 2 ;;
    --listen-port) listen_port=$2; shift 2 ;;
    --chat-port) chat_port=$2; shift 2 ;;
    --admin-port) admin_port=$2; shift 2 ;;
    --admin-host) admin_host=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --check-mode) check_mode=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
[ -n "$role" ] && [ -n "$node" ] && [ -n "$iface" ] && [ -n "$vip" ] && [ -n "$nodes" ] &&
  [ -n "$mysql" ] && [ -n "$redis" ] || { echo "install.sh: missing a required option" >&2; usage; }
case "$role" in master | backup) ;; *) die "--role is master or backup" ;; esac
case "$check_mode" in strict | alive | nginx) ;; *) die "--check-mode is strict, alive or nginx" ;; esac
[[ $vip =~ ^[0-9]+(\.[0-9]+){3}/[0-9]+$ ]] || die "--vip wants ADDR/PREFIX, e.g. 10.0.0.100/24"
[[ $vrid =~ ^[0-9]+$ ]] && [ "$vrid" -ge 1 ] && [ "$vrid" -le 255 ] || die "--vrid is 1-255"
[[ $node =~ ^[A-Za-z0-9_.-]+$ ]] || die "--node: letters, digits, _ . - only"
for p in "$listen_port" "$chat_port" "$admin_port"; do
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port $p"
done
[[ $admin_host =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "--admin-host wants an IPv4 address, e.g. 127.0.0.1 or 0.0.0.0"
# Where the check script (and the operator) reach the admin port on this VM.
admin_addr=$admin_host
[ "$admin_host" = 0.0.0.0 ] && admin_addr=127.0.0.1
IFS=, read -r -a node_list <<<"$nodes"
for n in "${node_list[@]}"; do [[ $n =~ ^[^:[:space:]]+:[0-9]+$ ]] || die "--nodes wants HOST:PORT,HOST:PORT, got '$n'"; done
[ -x "$binary" ] || die "no executable at $binary (run \`npm run build\` first)"
[ "$(id -u)" = 0 ] || [ -n "$root" ] || die "run as root (or stage with --root DIR)"

if [ -z "$root" ]; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is not installed (apt-get install nginx-light libnginx-mod-stream)"
  command -v keepalived >/dev/null || [ -x /usr/sbin/keepalived ] || die "keepalived is not installed (apt-get install keepalived)"
fi

# Where things go, and the paths the configs name (the same unless --root).
R=${root:+$(mkdir -p "$root" && cd "$root" && pwd)}
etc="$R/etc"
nginx_pid="$R/run/nginx.pid"
log_dir="$R/var/log/nginx"
check_script="$etc/keepalived/check-chat.sh"

# sed replacement text: escape \, & and the | delimiter.
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# render TEMPLATE DEST MODE: fills in every @KEY@, keeps a replaced file as DEST.bak.
render() {
  local tmp
  tmp=$(mktemp)
  # One `server` line per chat node: the @NODE1@ line is the pattern, the
  # template's other node lines are dropped.
  awk -v nodes="$nodes" '
    /@NODE1@/ { n = split(nodes, list, ","); for (i = 1; i <= n; i++) { line = $0; sub(/@NODE1@/, list[i], line); print line }; next }
    /@NODE[0-9]+@/ { next }
    { print }' "$1" |
    sed -e "s|@ROUTER_ID@|$(esc "chat_$node")|g" \
      -e "s|@NODE_ID@|$(esc "$node")|g" \
      -e "s|@INTERFACE@|$(esc "$iface")|g" \
      -e "s|@VRID@|$(esc "$vrid")|g" \
      -e "s|@VIP@|$(esc "$vip")|g" \
      -e "s|@CHECK_SCRIPT@|$(esc "$check_script $nginx_pid $admin_addr:$admin_port $check_mode")|g" \
      -e "s|@LISTEN_PORT@|$(esc "$listen_port")|g" \
      -e "s|@LOG_DIR@|$(esc "$log_dir")|g" \
      -e "s|@CHAT_PORT@|$(esc "$chat_port")|g" \
      -e "s|@ADMIN_PORT@|$(esc "$admin_port")|g" \
      -e "s|@ADMIN_HOST@|$(esc "$admin_host")|g" \
      -e "s|@MYSQL_URL@|$(esc "$mysql")|g" \
      -e "s|@REDIS_URL@|$(esc "$redis")|g" >"$tmp"
  if grep -n '@[A-Z_0-9]*@' "$tmp" >&2; then rm -f "$tmp"; die "unfilled placeholder in $1"; fi
  mkdir -p "$(dirname "$2")"
  if [ -e "$2" ] && ! cmp -s "$tmp" "$2"; then cp -p "$2" "$2.bak"; fi
  install -m "$3" "$tmp" "$2"
  rm -f "$tmp"
  echo "  $2"
}

echo "chat: installing node $node ($role) under ${R:-/}"
mkdir -p "$R/usr/local/bin" "$R/run" "$log_dir" "$etc/chat" "$etc/systemd/system" "$etc/nginx" "$etc/keepalived"

# The executable: copied next to nothing, it needs no node_modules or source.
install -m 0755 "$binary" "$R/usr/local/bin/chat.new"
mv -f "$R/usr/local/bin/chat.new" "$R/usr/local/bin/chat"
echo "  $R/usr/local/bin/chat"

if [ -z "$root" ] && ! id chat >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/chat --no-create-home --shell /usr/sbin/nologin chat
  echo "  user chat"
fi
render "$here/systemd/chat.env" "$etc/chat/chat.env" 0640
[ -z "$root" ] && chgrp chat "$etc/chat/chat.env"
render "$here/systemd/chat.service" "$etc/systemd/system/chat.service" 0644

render "$here/nginx/chat-stream.conf" "$etc/nginx/chat-stream.conf" 0644
if [ -z "$root" ]; then
  [ -e /etc/nginx/nginx.conf.before-chat ] || cp -p /etc/nginx/nginx.conf /etc/nginx/nginx.conf.before-chat 2>/dev/null || true
  install -m 0644 "$here/nginx/nginx.conf" /etc/nginx/nginx.conf
  echo "  /etc/nginx/nginx.conf (the previous one is nginx.conf.before-chat)"
fi

# The check script must be root-owned and in a directory only root can write,
# or keepalived (enable_script_security) silently refuses to run it.
install -m 0755 "$here/keepalived/check-chat.sh" "$check_script"
echo "  $check_script"
render "$here/keepalived/keepalived-$role.conf" "$etc/keepalived/keepalived.conf" 0644

if [ -n "$root" ]; then
  echo "chat: staged under $R; nothing started"
  exit 0
fi

nginx -t -q
# The keepalived config is checked by the operator (deploy/README.md, step 4):
# this script never runs keepalived itself, only systemd does, at start.
systemctl daemon-reload
systemctl enable chat nginx keepalived
if [ "$start" = 1 ]; then
  systemctl restart chat
  systemctl reload-or-restart nginx
  systemctl restart keepalived
  echo "chat: started; check with: curl -s $admin_addr:$admin_port/healthz; ip -br addr show $iface"
else
  echo "chat: installed; start with: systemctl start chat nginx keepalived"
fi
