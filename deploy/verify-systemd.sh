#!/usr/bin/env bash
# Checks deploy/mcpproxy.service (with the sandbox) and deploy/mcpproxy-locked.service (without)
# with `systemd-analyze verify`, which reads unit files offline:
# no running systemd is needed (it works in a container). verify insists that ExecStart's binary
# exists, so it checks a copy of the unit whose ExecStart points at a stand-in in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=/usr/local/bin/mcpproxy

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "verify-systemd: installing systemd (for systemd-analyze)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
  else
    echo "verify-systemd: systemd-analyze not found: apt-get install systemd" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 0\n' > "$tmp/mcpproxy"
chmod 755 "$tmp/mcpproxy"

for unit in deploy/mcpproxy.service deploy/mcpproxy-locked.service; do
  grep -q "^ExecStart=$binary " "$unit" || { echo "verify-systemd: $unit: ExecStart does not start $binary" >&2; exit 1; }

  copy="$tmp/$(basename "$unit")"
  sed "s#^ExecStart=$binary #ExecStart=$tmp/mcpproxy #" "$unit" > "$copy"

  # Unknown keys and bad values are only warnings to verify: fail on any output at all.
  out=$(systemd-analyze verify --man=no --recursive-errors=no "$copy" 2>&1) || { echo "$out" >&2; exit 1; }
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "verify-systemd: $unit: systemd-analyze verify has warnings" >&2
    exit 1
  fi
  # Exposure score (0 = locked down, 10 = unprotected); informative, systemd 252+ can score offline.
  score=$(systemd-analyze security --offline=yes "$copy" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p') || true
  echo "verify-systemd: $unit OK${score:+ (systemd-analyze security: $score)}"
done
