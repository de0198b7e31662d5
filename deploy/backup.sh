#!/bin/bash
# A consistent dump of the chat database, compressed, without stopping the
# nodes. MariaDB/MySQL holds everything durable (users, friends, groups,
# messages, delivery positions, tokens); Redis holds only who is online
# right now and needs no backup.
#
#   deploy/backup.sh [--database NAME] [--keep N] DIR [-- CLIENT_OPTIONS...]
#
# Writes DIR/chat-YYYYMMDD-HHMMSS.sql.gz (mode 0600: it holds password
# hashes and every message) and prints its name; keeps the newest N dumps
# of that database in DIR and deletes older ones. Restore with
# deploy/restore.sh.
#
# CLIENT_OPTIONS go to mariadb-dump as they are. Without them it connects
# the way `mariadb` does on this machine: on the database host as root, by
# the local socket (Debian's root logs in by unix_socket, no password). From
# elsewhere, name a user that may read the database, e.g.
#   -- --defaults-extra-file=/root/chat-backup.cnf
# with [client] host=, user=, password= in that file (mode 0600), never a
# password on the command line.
#
# Options (defaults in brackets):
#   --database NAME   the database to dump                     [chat]
#   --keep N          dumps to keep in DIR; 0 keeps all        [14]
set -euo pipefail
umask 077

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "backup.sh: $*" >&2; exit 1; }

database=chat keep=14 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) [ $# -ge 2 ] || usage; database=$2; shift 2 ;;
    --keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "backup.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$dir" ] || usage; dir=$1; shift ;;
  esac
done
[ -n "$dir" ] || { echo "backup.sh: name the directory for the dumps" >&2; usage; }
[[ $database =~ ^[A-Za-z0-9_]+$ ]] || die "--database: letters, digits and _ only"
[[ $keep =~ ^[0-9]+$ ]] || die "--keep wants a number"
dump=$(command -v mariadb-dump || command -v mysqldump) || die "mariadb-dump is not installed (apt-get install mariadb-client)"

mkdir -p "$dir"
out="$dir/$database-$(date -u +%Y%m%d-%H%M%S).sql.gz"
tmp="$out.partial"
trap 'rm -f "$tmp"' EXIT
# --single-transaction: one consistent snapshot of every InnoDB table, taken
# without locking them, so the nodes keep serving during the dump.
# --quick: rows stream out instead of being held in memory.
# No --databases: the dump restores into any database name (restore.sh).
"$dump" "$@" --single-transaction --quick --hex-blob --triggers --no-tablespaces \
  --default-character-set=utf8mb4 "$database" | gzip -c >"$tmp"
# A dump that ends without mariadb-dump's last line was cut short.
gzip -dc "$tmp" | tail -n 1 | grep -q '^-- Dump completed' || die "the dump of $database is incomplete; nothing written"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"

if [ "$keep" -gt 0 ]; then
  # Names sort by time; the newest $keep stay.
  ls -1 "$dir" | { grep -E "^$database-[0-9]{8}-[0-9]{6}\.sql\.gz$" || true; } | sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do rm -f "$dir/$old"; done
fi
