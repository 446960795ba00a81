#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked gnome-keyring Secret Service.
#
#   bash scripts/with-keyring.sh npx vitest run test/e2e/store*
#
# The keyring lives in a throwaway XDG_DATA_HOME / XDG_RUNTIME_DIR (removed on exit), so tests never
# read or write the user's real login keyring. The command's exit status is passed through.
# Exported to the command: MCP_KEYBRIDGE_KEYRING_PID, the pid of the private gnome-keyring-daemon.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring: '$tool' not found; install dbus and gnome-keyring (apt-get install dbus gnome-keyring libsecret-tools)" >&2
    exit 127
  fi
done

scratch="$(mktemp -d "${TMPDIR:-/tmp}/mcp-keybridge-keyring.XXXXXX")"
chmod 700 "$scratch"
mkdir -p -m 700 "$scratch/data" "$scratch/runtime" "$scratch/config" "$scratch/cache"
cleanup() { rm -rf -- "$scratch"; }
trap cleanup EXIT

# gnome-keyring writes its keyring under XDG_DATA_HOME/keyrings and its control socket under
# XDG_RUNTIME_DIR/keyring; both must exist, be private, and not be the user's real ones.
export XDG_DATA_HOME="$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime"
export XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
# gnome-keyring falls back to $HOME when XDG vars are missing; make sure HOME is at least set.
export HOME="${HOME:-$scratch}"

# Not `exec dbus-run-session`: the trap above must still run to remove the scratch keyring.
set +e
dbus-run-session -- bash -c '
  set -euo pipefail
  # --unlock reads the password from stdin and creates/unlocks the "login" keyring with it.
  # The daemon forks; its stdout carries GNOME_KEYRING_CONTROL=... lines we do not need.
  printf %s "mcp-keybridge-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || {
    echo "with-keyring: gnome-keyring-daemon failed to start" >&2
    exit 70
  }
  # Wait (bounded) until the Secret Service answers on the bus.
  ready=0
  for _ in $(seq 1 50); do
    if command -v secret-tool >/dev/null 2>&1; then
      if secret-tool search --all mcp-keybridge-probe none >/dev/null 2>&1; then ready=1; break; fi
    elif dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
      ready=1; break
    fi
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "with-keyring: the Secret Service did not answer within 5 s" >&2
    exit 70
  fi
  # The daemon pid lets the keychain e2e test pause it (SIGSTOP) to provoke a real hang.
  if command -v dbus-send >/dev/null 2>&1; then
    MCP_KEYBRIDGE_KEYRING_PID="$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null | awk '"'"'/uint32/ { print $2 }'"'"')"
    export MCP_KEYBRIDGE_KEYRING_PID
  fi
  exec "$@"
' with-keyring "$@"
status=$?
set -e
exit "$status"
