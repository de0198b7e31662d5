#!/bin/sh
# Installs what the project needs and is missing, then returns.
#   sh scripts/bootstrap.sh        what the server needs: npm packages, MariaDB, Redis
#   sh scripts/bootstrap.sh test   the same, plus what the test suite's HA lab, Galera and browser tests need
#   sh scripts/bootstrap.sh npm    npm packages only: building, type-checking and
#                                  the unit tests need nothing else (no root either)
# MariaDB and Redis come from Debian packages, only their binaries are used:
# the project starts private instances of its own (scripts/services.ts).
set -eu
cd "$(dirname "$0")/.."

mode=${1:-server}
case "$mode" in
  server | test | npm) ;;
  *) echo "usage: sh scripts/bootstrap.sh [test|npm]" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=""
if [ "$mode" != npm ]; then
  have mariadbd || missing="$missing mariadb-server"
  have redis-server || missing="$missing redis-server"
fi
if [ "$mode" = test ]; then
  have nginx || missing="$missing nginx-light libnginx-mod-stream"
  [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || case "$missing" in *stream*) ;; *) missing="$missing libnginx-mod-stream" ;; esac
  have keepalived || missing="$missing keepalived"
  # Redis Sentinel: the failover tests and the lab run three of their own.
  have redis-sentinel || missing="$missing redis-sentinel"
  have ip || missing="$missing iproute2"
  have tmux || missing="$missing tmux"
  # promtool checks /metrics and the alert rules (test/e2e/prometheus.test.ts).
  have promtool || missing="$missing prometheus"
  have fail2ban-regex || missing="$missing fail2ban"
  # The web client's browser tests drive Debian's chromium (test/support/browser.ts).
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  # Galera (test/support/galera.ts): Debian ships the provider separately from
  # mariadb-server, and its rsync state transfer needs rsync.
  [ -e /usr/lib/galera/libgalera_smm.so ] || missing="$missing galera-4"
  have rsync || missing="$missing rsync"
fi

if [ -n "$missing" ]; then
  if [ -r /etc/debian_version ] && [ "$(id -u)" = 0 ]; then
    echo "chat: installing Debian packages:$missing" >&2
    apt-get update -qq
    # The packages' own services must not start (nginx on :80, keepalived on the
    # host's interfaces, prometheus on :9090): a policy-rc.d that says "no" for the install's duration.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      added_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 || status=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "${status:-0}" = 0 ] || exit "$status"
  else
    echo "chat: missing packages:$missing" >&2
    echo "chat: install them (on Debian/Ubuntu as root: apt-get install$missing) and run this command again." >&2
    exit 1
  fi
fi

# npm packages, Bun among them, exactly as the lockfile pins them.
if [ ! -x node_modules/.bin/bun ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "chat: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi
