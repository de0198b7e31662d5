#!/bin/bash
# A private certificate authority and one server certificate for the chat
# nodes, with openssl. Run it on a machine you trust (not necessarily a VM);
# keep ca.key there, copy chat.pem and chat.key to every chat VM, and give
# ca.pem to the clients (`chat client --tls --ca ca.pem`).
#
#   deploy/make-certs.sh [--dir DIR] [--days N] NAME_OR_ADDRESS...
#
# Every name and address clients (or you) connect to goes on the command
# line: the VIP, a DNS name for it, each VM's own address. Addresses become
# IP entries, everything else DNS entries of the certificate's
# subjectAltName; clients check the one they dialled against that list.
#
# Options (defaults in brackets):
#   --dir DIR   where the files go (created, mode 0700)          [./chat-tls]
#   --days N    validity of the server certificate, days         [825]
#
# Writes, in DIR:
#   ca.pem, ca.key      the authority: made on the first run, reused after
#                       (10 years). ca.key signs certificates: never on a VM.
#   chat.pem, chat.key  the server certificate and its key, for
#                       install.sh --tls-cert chat.pem --tls-key chat.key.
#                       Made again on every run (to add a name, or renew);
#                       the previous pair is kept as chat.pem.old/chat.key.old.
#
# With a certificate from your own or a public authority instead, skip this
# script: give install.sh that certificate (with its intermediates, in one
# PEM file) and key; clients whose system trusts that authority need only --tls.
set -euo pipefail
umask 077

usage() {
  sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "make-certs.sh: $*" >&2; exit 1; }

dir=./chat-tls days=825
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "make-certs.sh: unknown option $1" >&2; usage ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || { echo "make-certs.sh: name the VIP, DNS names and VM addresses clients use" >&2; usage; }
[[ $days =~ ^[0-9]+$ ]] && [ "$days" -ge 1 ] || die "--days wants a number of days"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

san=""
for n in "${names[@]}"; do
  if [[ $n =~ ^[0-9]+(\.[0-9]+){3}$ || $n == *:* ]]; then
    san+="${san:+,}IP:$n"
  elif [[ $n =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
    san+="${san:+,}DNS:$n"
  else
    die "'$n' is neither an address nor a host name"
  fi
done

mkdir -p "$dir"
chmod 0700 "$dir"
cd "$dir"

# The authority: EC P-256 keys make TLS handshakes cheap, which matters when
# every client reconnects at once after a failover.
if [ ! -e ca.key ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.pem -days 3650 -subj "/CN=chat private CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "  $dir/ca.pem, $dir/ca.key (new authority)"
else
  [ -e ca.pem ] || die "$dir has ca.key but no ca.pem"
  echo "  $dir/ca.pem (existing authority)"
fi

for f in chat.pem chat.key; do [ -e "$f" ] && mv -f "$f" "$f.old"; done
ext=$(mktemp)
trap 'rm -f "$ext" chat.csr' EXIT
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$san" >"$ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout chat.key -out chat.csr -subj "/CN=${names[0]}" 2>/dev/null
openssl x509 -req -in chat.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
  -extfile "$ext" -out chat.pem 2>/dev/null
chmod 0644 ca.pem chat.pem
openssl verify -CAfile ca.pem chat.pem >/dev/null || die "the new certificate does not verify against ca.pem"
echo "  $dir/chat.pem, $dir/chat.key for $san, valid $days days"
