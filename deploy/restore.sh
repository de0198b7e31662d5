#!/bin/bash
# Loads a dump made by deploy/backup.sh into the chat database. Stop the chat
# node on every VM first (`systemctl stop chat`) and start them after: a node
# writing while the dump loads would mix old and new rows.
#
#   deploy/restore.sh [--database NAME] [--replace] FILE [-- CLIENT_OPTIONS...]
#
# Creates the database (utf8mb4, utf8mb4_bin) when it does not exist. When
# it exists and holds tables, restore.sh refuses unless --replace is given:
# then it drops the database and loads the dump into a fresh one. The users'
# grants on the database stay (MariaDB keeps them by name).
#
# CLIENT_OPTIONS go to mariadb as they are (see backup.sh); the user needs
# CREATE, DROP, INSERT, ALTER, INDEX and REFERENCES on the database, like the
# migration user, and CREATE and DROP of the database itself for --replace.
#
# Options (defaults in brackets):
#   --database NAME   the database to load into                  [chat]
#   --replace         drop an existing, non-empty database first
set -euo pipefail

usage() {
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "restore.sh: $*" >&2; exit 1; }

database=chat replace=0 file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) [ $# -ge 2 ] || usage; database=$2; shift 2 ;;
    --replace) replace=1; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "restore.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$file" ] || usage; file=$1; shift ;;
  esac
done
[ -n "$file" ] || { echo "restore.sh: name the dump to restore" >&2; usage; }
[ -r "$file" ] || die "cannot read $file"
[[ $database =~ ^[A-Za-z0-9_]+$ ]] || die "--database: letters, digits and _ only"
client=$(command -v mariadb || command -v mysql) || die "the mariadb client is not installed (apt-get install mariadb-client)"

case "$file" in
  *.gz) cat_dump() { gzip -dc "$file"; } ;;
  *) cat_dump() { cat "$file"; } ;;
esac
# Refuse a dump cut short (a full disk, an interrupted copy) before touching anything.
cat_dump | tail -n 1 | grep -q '^-- Dump completed' || die "$file is not a complete dump (no '-- Dump completed' line at its end)"

sql() { "$client" "$@" --batch --skip-column-names; }
tables=$(sql "${@}" -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$database'")
if [ "$tables" != 0 ]; then
  [ "$replace" = 1 ] || die "database $database exists and holds $tables tables; add --replace to drop it and load $file instead"
  sql "$@" -e "DROP DATABASE \`$database\`"
  echo "  dropped database $database ($tables tables)"
fi
sql "$@" -e "CREATE DATABASE IF NOT EXISTS \`$database\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
cat_dump | "$client" "$@" --default-character-set=utf8mb4 "$database"
echo "  restored $file into $database ($(sql "$@" -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$database'") tables)"
