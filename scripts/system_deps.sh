#!/usr/bin/env bash
# Install the Debian packages the stack and the tests need, only those missing.
# Keycloak itself comes from Maven Central (scripts/keycloak.sh fetch), not from here.
set -euo pipefail

# command -> Debian package
declare -A PACKAGES=(
    [curl]=curl
    [unzip]=unzip
    [mvn]=maven
    [redis-server]=redis-server
    [wrk]=wrk # bench/receiver_http.py: HTTP load generator
    [chromium]=chromium # tests/browser: Playwright drives this browser, it never downloads one
)

missing=()
for command in "${!PACKAGES[@]}"; do
    command -v "${command}" >/dev/null 2>&1 || missing+=("${PACKAGES[${command}]}")
done
# PostgreSQL's server programs are not on PATH on Debian (/usr/lib/postgresql/<version>/bin):
# scripts/stack/ runs a cluster of its own from there (make run-prod, tests/faults/).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
((${#missing[@]} == 0)) && exit 0

sudo_cmd=()
if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || { echo "system_deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
echo "system_deps.sh: installing ${missing[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
