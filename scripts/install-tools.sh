#!/usr/bin/env bash
# Installs the Debian packages Hallmark's commands need when they are missing, and nothing else.
#   scripts/install-tools.sh run     SoftHSM2, openssl, jq, curl, make and g++ (the quick start and its tour)
#   scripts/install-tools.sh test    what the test suite talks to as well: curl, GnuTLS, Mosquitto,
#                                    Chromium (the console), strace (disk syncs), zsh (completion),
#                                    a software TPM, tpm2-tools, its resource manager on D-Bus and
#                                    openssl's tpm2 provider (TPM attestation, TLS with a TPM key),
#                                    and two more PKCS#11 modules: openCryptoki and tpm2-pkcs11
#   scripts/install-tools.sh bench   the quick start's, and wrk (HTTP load for scripts/bench)
# As root it runs apt-get; otherwise through sudo. Without either it prints the command to run.
set -euo pipefail

tools=(softhsm2-util:softhsm2 openssl:openssl jq:jq curl:curl make:make g++:g++)
if [ "${1:-run}" = "test" ]; then
  tools+=(gnutls-cli:gnutls-bin mosquitto:mosquitto mosquitto_pub:mosquitto-clients chromium:chromium strace:strace zsh:zsh pg_isready:postgresql-client swtpm:swtpm swtpm_setup:swtpm-tools tpm2_activatecredential:tpm2-tools /usr/sbin/tpm2-abrmd:tpm2-abrmd dbus-daemon:dbus-daemon getcert:certmonger /usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0:libtss2-tcti-tabrmd0 /usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so:tpm2-openssl /usr/sbin/pkcsslotd:opencryptoki /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so:libtpm2-pkcs11-1 tpm2_ptool:libtpm2-pkcs11-tools)
fi
if [ "${1:-run}" = "bench" ]; then
  tools+=(wrk:wrk)
fi

missing=()
# A name is a command on PATH; a path (a library, an openssl provider) must exist.
for tool in "${tools[@]}"; do
  name="${tool%%:*}"
  if [ "${name:0:1}" = / ]; then [ -e "$name" ] || missing+=("${tool#*:}"); else command -v "$name" >/dev/null || missing+=("${tool#*:}"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "install-tools: missing ${missing[*]}; as root, run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-tools: installing ${missing[*]} (Debian packages)" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
