#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd as systemd reads them:
#   - `systemd-analyze verify`: syntax, every key known and every value valid, the units they depend
#     on exist, ExecStart's program is executable;
#   - `systemd-analyze security --offline`: the hardening stays (overall exposure at most 2.0);
#   - the programs they start exist: one under /opt/kaas (an installation is a built checkout,
#     docs/install.md) in this checkout (after `make deps`), with a script compiled from src/; a
#     system program (/bin/sh) on this machine;
#   - the API and the workers run with the flags of deploy/node-flags;
#   - the environment file examples set only variables the code reads.
# The units name the paths of an installation (/opt/kaas, /etc/kaas), so they are verified in a
# scratch root holding this machine's system units, ours under /etc/systemd/system, and an empty
# stand-in at each ExecStart path. systemd-analyze reports bad values and unknown keys as warnings
# only, so any message it prints fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "check-units: systemd-analyze not found (Debian package systemd; scripts/deps.sh installs it)" >&2
  exit 1
fi
fail=0
problem() {
  echo "check-units: $*" >&2
  fail=1
}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp deploy/systemd/*.service deploy/systemd/*.timer "$root/etc/systemd/system/"

read -ra node_flags <<<"$(grep -v '^[[:space:]]*#' deploy/node-flags | tr '\n' ' ')"
units=()
services=()
for f in deploy/systemd/*.timer; do units+=("$(basename "$f")"); done
for f in deploy/systemd/*.service; do
  name=$(basename "$f")
  # A template is checked through an instance.
  [[ $name == *@.service ]] && name=${name%@.service}@1.service
  units+=("$name")
  services+=("$name")
  grep -q '^ExecStart=' "$f" || problem "$f: no ExecStart"
  while read -r program args; do
    script=
    flags=()
    read -ra words <<<"$args"
    for a in "${words[@]}"; do
      if [[ $a == dist/src/*.js ]]; then script=$a; break; fi
      flags+=("$a")
    done
    mkdir -p "$root$(dirname "$program")"
    printf '#!/bin/sh\n' >"$root$program"
    chmod 0755 "$root$program"
    case $program in
      /opt/kaas/*) [ -x "${program#/opt/kaas/}" ] || problem "$f: $program is not in this checkout as ${program#/opt/kaas/} (run make deps)" ;;
      # A program of the system (/bin/sh): it is on this machine too.
      *) [ -x "$program" ] || problem "$f: $program does not exist on this machine" ;;
    esac
    if [[ $script == dist/src/*.js ]]; then
      src=${script#dist/}
      [ -f "${src%.js}.ts" ] || problem "$f: runs $script, but there is no ${src%.js}.ts to compile it from"
    fi
    # The API and the workers run with the flags of deploy/node-flags.
    if [[ $script == dist/src/main.js || $script == dist/src/worker.js ]] && [ "${flags[*]}" != "${node_flags[*]}" ]; then
      problem "$f: runs $script with node flags '${flags[*]}', but deploy/node-flags says '${node_flags[*]}'"
    fi
  done < <(sed -n 's/^ExecStart=\(\/[^ ]*\) *\(.*\)$/\1 \2/p' "$f")
done

if ! out=$(systemd-analyze verify --man=no --generators=no --root="$root" "${units[@]}" 2>&1) || [ -n "$out" ]; then
  problem "systemd-analyze verify:"$'\n'"${out:-(no message, non-zero exit)}"
fi
if ! out=$(systemd-analyze security --offline=yes --threshold=20 --root="$root" "${services[@]}" 2>&1); then
  problem "systemd-analyze security: the hardening got weaker (overall exposure over 2.0):"$'\n'"$(grep 'Overall exposure' <<<"$out")"
fi

for env in deploy/systemd/*.env.example; do
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! $line =~ ^([A-Z][A-Z0-9_]*)= ]]; then
      problem "$env: not NAME=value: $line"
      continue
    fi
    var=${BASH_REMATCH[1]}
    grep -rqF --include='*.ts' "$var" src || [ "$var" = UV_THREADPOOL_SIZE ] || [ "$var" = NODE_ENV ] ||
      problem "$env: $var is read nowhere in src/"
  done <"$env"
done

[ "$fail" = 0 ] || exit 1
echo "check-units: verified ${units[*]}; exposure: $(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$out" | sed 's/.*level for //' | paste -sd, | sed 's/,/, /g')"
