#!/usr/bin/env bash
# Creates the SoftHSM2 development token under $HALLMARK_HOME (default ./data):
#   $HALLMARK_HOME/softhsm2.conf   SoftHSM config (Hallmark uses it when SOFTHSM2_CONF is unset)
#   $HALLMARK_HOME/hsm/tokens/     token files
#   $HALLMARK_HOME/hsm/user.pin    random user PIN (0600) → HALLMARK_PKCS11_PIN_FILE
# The SO PIN is random and not kept: a dev token is recreated, not administered.
# Idempotent: an existing token is left alone.
set -euo pipefail
home="${HALLMARK_HOME:-./data}"
mkdir -p "$home"
home="$(cd "$home" && pwd)"
label="${HALLMARK_PKCS11_TOKEN:-hallmark}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v softhsm2-util >/dev/null; then
  echo "dev-token: softhsm2-util not found; install it with: apt-get install -y softhsm2" >&2
  exit 1
fi

umask 077
chmod 700 "$home"
mkdir -p "$home/hsm/tokens"
conf="$home/softhsm2.conf"
sed "s|@TOKEN_DIR@|$home/hsm/tokens|" "$here/hsm/softhsm2.conf.template" > "$conf"
export SOFTHSM2_CONF="$conf"

if softhsm2-util --show-slots 2>/dev/null | grep -q "Label:[[:space:]]*$label[[:space:]]*$"; then
  echo "dev-token: token \"$label\" already exists in $home/hsm/tokens" >&2
else
  # Every token in one data directory shares the PIN file (a dev convenience, not a production habit).
  if [ -s "$home/hsm/user.pin" ]; then pin="$(cat "$home/hsm/user.pin")"
  else pin="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; fi
  so_pin="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  module="${HALLMARK_PKCS11_MODULE:-}"
  if [ -z "$module" ]; then
    for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
      [ -f "$m" ] && { module="$m"; break; }
    done
  fi
  # The PINs go through a pipe, never the command line (softhsm2-util would put them where ps shows them).
  printf '%s\n%s\n' "$so_pin" "$pin" | node "$here/scripts/init-token.mjs" "$module" "$label"
  printf '%s\n' "$pin" > "$home/hsm/user.pin"
  echo "dev-token: created token \"$label\" in $home/hsm/tokens" >&2
fi
echo "export SOFTHSM2_CONF=$conf HALLMARK_PKCS11_PIN_FILE=$home/hsm/user.pin"
