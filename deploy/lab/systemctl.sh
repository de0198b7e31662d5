#!/bin/sh
# systemctl for deploy/install.sh inside the HA lab (CHAT_INSTALL_SYSTEMCTL):
# the lab plays systemd, so each call becomes a request file in
# $CHAT_LAB_SYSTEMCTL_DIR that the lab's driver carries out (a restart of the
# chat node: SIGTERM, wait, start again) and answers with the exit status.
# `is-active` is answered here: in the lab every unit runs.
set -eu
[ "${1:-}" = is-active ] && exit 0
dir=${CHAT_LAB_SYSTEMCTL_DIR:?the lab sets CHAT_LAB_SYSTEMCTL_DIR}
req="$dir/$$.req"
printf '%s\n' "$*" >"$req.tmp"
mv "$req.tmp" "$req"
# Bounded: a driver that died answers nothing, and this must not outlive it.
tries=0
while [ ! -e "$dir/$$.done" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 1800 ] || { echo "lab systemctl: no answer to '$*' within 90 s" >&2; exit 1; }
  sleep 0.05
done
status=$(cat "$dir/$$.done")
rm -f "$dir/$$.done"
exit "$status"
