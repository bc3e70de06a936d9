#!/usr/bin/env bash
# Prints the path of the newest nats-server Debian offers (sid by default), fetched without
# installing anything: an apt sources list in a temporary directory, `apt-get update` and
# `apt-get download nats-server` against it, `dpkg-deb -x` into a cache folder. Debian builds it
# as a static Go binary, so it runs on older releases (bookworm) too.
#
#   deploy/nats/current-server.sh            -> /…/.cache/nats-server/2.15.1-1/usr/sbin/nats-server
#
# stdout carries the path only; every message goes to stderr. Used by .ci/run, the tests'
# global setup, the benchmark and `npm start`.
#
# Settings (environment):
#   NATS_CACHE_DIR              where versions are kept (default: <repo>/.cache/nats-server, git-ignored)
#   NATS_SERVER_REFRESH_HOURS   how long a check for a newer version counts (default 24; 0 = always check)
#   NATS_SERVER_APT_SOURCE      the one sources.list line (default: Debian sid main, signed by the archive keyring)
# Offline, a cached version is used (with a warning); with none cached the script fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${NATS_CACHE_DIR:-$repo/.cache/nats-server}
refresh_hours=${NATS_SERVER_REFRESH_HOURS:-24}
source_line=${NATS_SERVER_APT_SOURCE:-deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main}
stamp=$cache/.checked

say() { echo "current-server: $*" >&2; }

mkdir -p "$cache"
# One fetch at a time (parallel test runs, CI and npm start may ask together).
exec 9>"$cache/.lock"
flock 9

newest_cached() {
  local found
  found=$(find "$cache/" -mindepth 4 -maxdepth 4 -path '*/usr/sbin/nats-server' -not -path '*.partial/*' -type f 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found" ] && echo "$found"
}

fresh() {
  [ "$refresh_hours" != 0 ] && [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin "-$((refresh_hours * 60))" 2>/dev/null)" ]
}

if fresh && cached=$(newest_cached); then
  echo "$cached"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/etc"
echo "$source_line" >"$tmp/etc/sources.list"
: >"$tmp/status"
apt_opts=(
  -o "Dir::Etc::sourcelist=$tmp/etc/sources.list"
  -o "Dir::Etc::sourceparts=/dev/null"
  -o "Dir::Etc::preferences=/dev/null"
  -o "Dir::Etc::preferencesparts=/dev/null"
  -o "Dir::State::Lists=$tmp/lists"
  -o "Dir::State::status=$tmp/status"
  -o "Dir::Cache=$tmp/cache"
  -o "APT::Architectures=$(dpkg --print-architecture)"
  -o "Acquire::Languages=none"
  # As root apt drops to the _apt user, who cannot write into this private temp directory.
  -o "APT::Sandbox::User=$(id -un)"
)

if ! apt-get "${apt_opts[@]}" -qq update >"$tmp/update.log" 2>&1 ||
  ! version=$(apt-cache "${apt_opts[@]}" show --no-all-versions nats-server 2>/dev/null | sed -n 's/^Version: //p' | head -n 1) ||
  [ -z "$version" ]; then
  if cached=$(newest_cached); then
    say "could not check for a newer nats-server ($(tail -n 1 "$tmp/update.log")); using the cached $cached"
    echo "$cached"
    exit 0
  fi
  say "could not fetch nats-server from: $source_line"
  cat "$tmp/update.log" >&2
  exit 1
fi

dir=$cache/${version//[^A-Za-z0-9.+~_-]/_}
binary=$dir/usr/sbin/nats-server
if [ ! -x "$binary" ]; then
  say "fetching nats-server $version"
  (cd "$tmp" && apt-get "${apt_opts[@]}" -qq download nats-server >&2)
  rm -rf "$dir.partial"
  dpkg-deb -x "$tmp"/nats-server_*.deb "$dir.partial"
  "$dir.partial/usr/sbin/nats-server" --version >/dev/null
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
fi
touch "$stamp"
echo "$binary"
