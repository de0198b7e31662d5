#!/bin/bash
# keepalived vrrp_script for a chat VM. Exit 0 = this VM may hold the VIP;
# anything else puts it into FAULT (weight 0), which hands the VIP over.
#
#   check-chat.sh [NGINX_PID_FILE] [ADMIN_HOST:PORT] [strict|alive|nginx] [MAINTENANCE_FILE]
#
#   NGINX_PID_FILE   this VM's nginx pid file            (default /run/nginx.pid)
#   ADMIN_HOST:PORT  this VM's chat node admin endpoint  (default 127.0.0.1:6001)
#   strict           nginx alive and /healthz answers 200 (default)
#   alive            nginx alive and /healthz answers at all: 503 (MySQL
#                    unreachable) does not fail over. Every node shares the
#                    same MySQL, so in strict mode a MySQL outage puts both VMs
#                    in FAULT and nobody holds the VIP until it is back; choose
#                    `alive` if clients should rather stay connected and get
#                    `unavailable` meanwhile.
#   nginx            nginx alone decides. A dead local chat node then moves no
#                    VIP: this VM's nginx sends new connections to the other
#                    nodes, and only that node's clients reconnect. (When the
#                    VIP moves while this VM's nginx lives, every client on it
#                    sits on a dead path until it next sends something; see
#                    deploy/README.md.)
#   MAINTENANCE_FILE while it exists, and for at most 10 minutes after it was
#                    made, the chat node does not count, as in mode nginx:
#                    install.sh --upgrade makes it around a planned restart so
#                    that the VIP stays (default /run/chat-maintenance)
#
# Install it root-owned, mode 0755, in a directory no other user can write
# (/etc/keepalived): with enable_script_security keepalived refuses scripts
# that others could change, and says so only in its log.
# Dependencies: bash, coreutils (`timeout`, `stat`, `date`). No curl: bash's
# /dev/tcp speaks the one HTTP request needed.
set -u
pid_file=${1:-/run/nginx.pid}
admin=${2:-127.0.0.1:6001}
mode=${3:-strict}
maintenance=${4:-/run/chat-maintenance}
# A flag older than this is forgotten: an upgrade that died half-way must not
# switch the chat node's check off for good.
MAINTENANCE_MAX_S=600

fail() {
  echo "check-chat: $*" >&2
  exit 1
}

# 1. nginx is alive. By this VM's pid file, never by name: in containers and
# network namespaces `pidof nginx` also sees other machines' nginx.
read -r pid 2>/dev/null <"$pid_file" || fail "no nginx pid file $pid_file"
[[ $pid =~ ^[0-9]+$ ]] || fail "bad pid in $pid_file"
stat=$(cat "/proc/$pid/stat" 2>/dev/null) || fail "nginx ($pid) is not running"
[[ $stat == *"(nginx)"* ]] || fail "pid $pid is not nginx"
state=${stat##*) }
state=${state%% *}
# A killed nginx whose parent has not reaped it yet is a zombie: dead.
[[ $state != Z && $state != X ]] || fail "nginx ($pid) is dead (state $state)"

[ "$mode" = nginx ] && exit 0
if made=$(stat -c %Y "$maintenance" 2>/dev/null) && [ $(($(date +%s) - made)) -lt $MAINTENANCE_MAX_S ]; then
  exit 0
fi

# 2. The local chat node answers /healthz within 1.5 s (the node itself gives
# MySQL 1 s to answer before it says 503).
host=${admin%:*}
port=${admin##*:}
status=$(timeout 1.5 bash -c '
  exec 3<>"/dev/tcp/$0/$1" || exit 1
  printf "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$0" >&3
  IFS= read -r line <&3 && printf "%s" "$line"' "$host" "$port" 2>/dev/null) ||
  fail "chat /healthz on $admin does not answer"
code=$(echo "$status" | cut -d' ' -f2)
case "$mode:$code" in
  strict:200 | alive:200 | alive:503) exit 0 ;;
  *) fail "chat /healthz on $admin answered: ${status%$'\r'}" ;;
esac
