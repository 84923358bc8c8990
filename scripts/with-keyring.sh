#!/usr/bin/env bash
# Runs a command (the test suite) inside a private D-Bus session with a fresh, unlocked
# gnome-keyring, so client tests use a real OS keychain (Secret Service) without touching
# the developer's own. Without dbus-run-session/gnome-keyring the command runs as is and
# keychain tests skip — except under CI=true, where that is an error.
set -eu
if [ -z "${FERRY_TEST_KEYRING:-}" ]; then
  if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    FERRY_TEST_KEYRING=$(mktemp -d "${TMPDIR:-/tmp}/ferry-keyring.XXXXXX")
    export FERRY_TEST_KEYRING
    status=0
    # dbus-daemon as root warns that it cannot raise its fd limit: harmless, filtered.
    dbus-run-session -- "$0" "$@" 2> >(grep -v 'Failed to set fd limit' >&2) || status=$?
    rm -rf "$FERRY_TEST_KEYRING"
    exit "$status"
  fi
  if [ "${CI:-}" = true ]; then
    echo "with-keyring: dbus-run-session and gnome-keyring-daemon are required (apt install dbus gnome-keyring)" >&2
    exit 1
  fi
  exec "$@"
fi
# Inside the session: gnome-keyring keeps its keyrings under XDG_DATA_HOME, and creates
# and unlocks the default "login" keyring with the password given on stdin.
export XDG_DATA_HOME="$FERRY_TEST_KEYRING"
printf 'ferry-test-keyring' | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
exec "$@"
