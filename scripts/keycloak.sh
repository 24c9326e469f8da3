#!/usr/bin/env bash
# Run a real Keycloak (no Docker) for local development and integration tests.
#
#   scripts/keycloak.sh fetch   download (Maven) + verify + unpack the Keycloak distribution
#   scripts/keycloak.sh start   run Keycloak in the foreground (exec), importing keycloak/realm-techstore.json
#   scripts/keycloak.sh wait    block until the techstore realm answers, print the seconds it took
#
# See keycloak/README.md for the environment variables.
set -euo pipefail

readonly KC_VERSION="26.7.3"
readonly KC_ARTIFACT="org.keycloak:keycloak-quarkus-dist:${KC_VERSION}:zip"
# sha256sum of keycloak-quarkus-dist-26.7.3.zip as served by Maven Central (its .sha1 is checked too).
readonly KC_ZIP_SHA256="27a6535553c3cdcd083872ba40629efafb3475e3b758e0c6f691395561dd0f1f"
readonly KC_REALM="techstore"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly REPO_ROOT="${SCRIPT_DIR%/*}"
readonly REALM_FILE="${REPO_ROOT}/keycloak/realm-techstore.json"

readonly CACHE_DIR="${KEYCLOAK_HOME_CACHE:-${HOME}/.cache/m2m-keycloak}"
readonly KC_HOME="${CACHE_DIR}/keycloak-${KC_VERSION}"

# Environment variables the realm file's ${...} placeholders need (see keycloak/README.md).
readonly REALM_ENV_VARS=(SHOP_API_CLIENT_SECRET REPORTING_JOB_CLIENT_SECRET SHOP_WEB_CLIENT_SECRET KEYCLOAK_DEMO_PASSWORD SHOP_API_SIGNING_PUBLIC_KEY)

die() {
    printf 'keycloak.sh: %s\n' "$*" >&2
    exit 1
}

log() {
    printf 'keycloak.sh: %s\n' "$*" >&2
}

usage() {
    cat >&2 <<USAGE
usage: ${0##*/} fetch|start|wait

  fetch  ensure ${KC_ARTIFACT} is in the local Maven repository, verify it
         and unpack it into ${KC_HOME}
  start  run Keycloak ${KC_VERSION} in the foreground (start-dev, in-memory DB),
         importing keycloak/realm-techstore.json
  wait   poll the ${KC_REALM} realm until it answers (timeout \$KEYCLOAK_START_TIMEOUT, default 180 s)
USAGE
    exit 2
}

# Local Maven repository (override with MAVEN_REPO_LOCAL).
maven_repo() {
    printf '%s\n' "${MAVEN_REPO_LOCAL:-${HOME}/.m2/repository}"
}

cmd_fetch() {
    command -v mvn >/dev/null 2>&1 || die "mvn (Apache Maven) is required for 'fetch'"
    command -v unzip >/dev/null 2>&1 || die "unzip is required for 'fetch'"
    command -v sha256sum >/dev/null 2>&1 || die "sha256sum is required for 'fetch'"

    local m2 zip_dir zip actual expected_sha1 actual_sha1 tmp mvn_out
    m2="$(maven_repo)"
    zip_dir="${m2}/org/keycloak/keycloak-quarkus-dist/${KC_VERSION}"
    zip="${zip_dir}/keycloak-quarkus-dist-${KC_VERSION}.zip"

    if [[ ! -f "${zip}" ]]; then
        log "downloading ${KC_ARTIFACT} with Maven"
    fi
    # Resolves from the local repository when present, downloads from Maven Central otherwise.
    # (Maven 3.8 prints stray ANSI resets even with -q: show its output only when it fails.)
    if ! mvn_out="$(mvn -B -q -Dstyle.color=never dependency:get "-Dartifact=${KC_ARTIFACT}" \
        -Dtransitive=false "-Dmaven.repo.local=${m2}" 2>&1)"; then
        printf '%s\n' "${mvn_out}" >&2
        die "mvn dependency:get ${KC_ARTIFACT} failed"
    fi
    [[ -f "${zip}" ]] || die "Maven did not produce ${zip}"

    actual="$(sha256sum "${zip}" | cut -d' ' -f1)"
    [[ "${actual}" == "${KC_ZIP_SHA256}" ]] \
        || die "SHA-256 mismatch for ${zip}: expected ${KC_ZIP_SHA256}, got ${actual} (delete it and run fetch again)"

    if [[ -f "${zip}.sha1" ]]; then
        expected_sha1="$(tr -d '[:space:]' <"${zip}.sha1" | cut -c1-40)"
        actual_sha1="$(sha1sum "${zip}" | cut -d' ' -f1)"
        [[ "${actual_sha1}" == "${expected_sha1}" ]] \
            || die "SHA-1 mismatch against Maven's ${zip}.sha1: expected ${expected_sha1}, got ${actual_sha1}"
    else
        log "warning: ${zip}.sha1 not found, only the pinned SHA-256 was checked"
    fi

    local unpacked_from=""
    if [[ -x "${KC_HOME}/bin/kc.sh" && -f "${KC_HOME}/.m2m-sha256" ]]; then
        unpacked_from="$(<"${KC_HOME}/.m2m-sha256")"
    fi
    if [[ "${unpacked_from}" == "${KC_ZIP_SHA256}" ]]; then
        log "reusing ${KC_HOME}"
        return 0
    fi

    mkdir -p "${CACHE_DIR}"
    tmp="$(mktemp -d "${CACHE_DIR}/.unpack.XXXXXX")"
    # shellcheck disable=SC2064  # expand ${tmp} now: it is local to this function
    trap "rm -rf '${tmp}'" EXIT
    unzip -q "${zip}" -d "${tmp}"
    [[ -x "${tmp}/keycloak-${KC_VERSION}/bin/kc.sh" ]] || die "unexpected archive layout in ${zip}"
    printf '%s\n' "${KC_ZIP_SHA256}" >"${tmp}/keycloak-${KC_VERSION}/.m2m-sha256"
    rm -rf "${KC_HOME}"
    mv "${tmp}/keycloak-${KC_VERSION}" "${KC_HOME}"
    rm -rf "${tmp}"
    trap - EXIT
    log "unpacked Keycloak ${KC_VERSION} into ${KC_HOME}"
}

# Major Java version of a JDK directory (from its 'release' file), or empty.
java_major() {
    local jdk="$1" version
    [[ -x "${jdk}/bin/java" && -f "${jdk}/release" ]] || return 0
    version="$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "${jdk}/release")"
    version="${version#1.}"
    printf '%s\n' "${version%%[.+-]*}"
}

# JDK for Keycloak: $KEYCLOAK_JAVA_HOME if set, else Temurin 25, else the newest JDK 21+ in /usr/lib/jvm.
find_java_home() {
    local preferred="/usr/lib/jvm/temurin-25-jdk-amd64" jdk major best="" best_major=0
    if [[ -n "${KEYCLOAK_JAVA_HOME:-}" ]]; then
        major="$(java_major "${KEYCLOAK_JAVA_HOME}")"
        if ! [[ "${major}" =~ ^[0-9]+$ ]] || ((major < 21)); then
            die "KEYCLOAK_JAVA_HOME=${KEYCLOAK_JAVA_HOME} is not a JDK 21+ (found '${major}')"
        fi
        printf '%s\n' "${KEYCLOAK_JAVA_HOME}"
        return 0
    fi
    major="$(java_major "${preferred}")"
    if [[ "${major}" =~ ^[0-9]+$ ]] && ((major >= 21)); then
        printf '%s\n' "${preferred}"
        return 0
    fi
    for jdk in /usr/lib/jvm/*; do
        [[ -d "${jdk}" && ! -L "${jdk}" ]] || continue
        major="$(java_major "${jdk}")"
        [[ "${major}" =~ ^[0-9]+$ ]] || continue
        if ((major >= 21 && major > best_major)); then
            best="${jdk}"
            best_major="${major}"
        fi
    done
    [[ -n "${best}" ]] || die "no JDK 21+ found under /usr/lib/jvm (Keycloak ${KC_VERSION} supports Java 21 and 25)"
    printf '%s\n' "${best}"
}

require_env() {
    local missing=() name
    for name in "$@"; do
        [[ -n "${!name:-}" ]] || missing+=("${name}")
    done
    if ((${#missing[@]} > 0)); then
        die "missing required environment variable(s): ${missing[*]}
  KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD: Keycloak's temporary admin (master realm)
  SHOP_API_CLIENT_SECRET, REPORTING_JOB_CLIENT_SECRET, SHOP_WEB_CLIENT_SECRET, KEYCLOAK_DEMO_PASSWORD,
  SHOP_API_SIGNING_PUBLIC_KEY (base64 DER public key of shop-api-signed, make env writes one):
  substituted into keycloak/realm-techstore.json at import (see keycloak/README.md)"
    fi
}

cmd_start() {
    require_env KC_BOOTSTRAP_ADMIN_USERNAME KC_BOOTSTRAP_ADMIN_PASSWORD "${REALM_ENV_VARS[@]}"
    [[ -f "${REALM_FILE}" ]] || die "realm file not found: ${REALM_FILE}"

    if [[ ! -x "${KC_HOME}/bin/kc.sh" ]]; then
        cmd_fetch
    fi

    local java_home
    java_home="$(find_java_home)"
    export JAVA_HOME="${java_home}"
    export KC_BOOTSTRAP_ADMIN_USERNAME KC_BOOTSTRAP_ADMIN_PASSWORD "${REALM_ENV_VARS[@]}"

    # Only our realm file is imported: drop whatever an earlier run left in data/import.
    mkdir -p "${KC_HOME}/data/import"
    find "${KC_HOME}/data/import" -maxdepth 1 -type f -name '*.json' -delete
    cp "${REALM_FILE}" "${KC_HOME}/data/import/realm-techstore.json"

    local port="${KEYCLOAK_PORT:-8080}"
    local management_port="${KEYCLOAK_MANAGEMENT_PORT:-9000}"
    local public_url="${KEYCLOAK_PUBLIC_URL:-http://localhost:${port}}"
    local http_host="${KEYCLOAK_HTTP_HOST:-127.0.0.1}"

    log "starting Keycloak ${KC_VERSION} (JAVA_HOME=${JAVA_HOME}) on ${http_host}:${port}, management port ${management_port}, hostname ${public_url}"
    cd "${KC_HOME}"
    exec "${KC_HOME}/bin/kc.sh" start-dev \
        --import-realm \
        --db=dev-mem \
        "--http-host=${http_host}" \
        "--http-port=${port}" \
        "--http-management-port=${management_port}" \
        "--hostname=${public_url}" \
        --hostname-backchannel-dynamic=true \
        --health-enabled=true
}

cmd_wait() {
    command -v curl >/dev/null 2>&1 || die "curl is required for 'wait'"
    local base="${KEYCLOAK_URL:-http://localhost:${KEYCLOAK_PORT:-8080}}"
    local timeout="${KEYCLOAK_START_TIMEOUT:-180}"
    local url="${base%/}/realms/${KC_REALM}/.well-known/openid-configuration"
    [[ "${timeout}" =~ ^[0-9]+$ ]] || die "KEYCLOAK_START_TIMEOUT must be a number of seconds, got '${timeout}'"

    local start=${SECONDS}
    until curl -fsS -o /dev/null --max-time 5 "${url}" 2>/dev/null; do
        if ((SECONDS - start >= timeout)); then
            die "Keycloak not ready after ${timeout}s (${url})"
        fi
        sleep 1
    done
    printf 'Keycloak ready after %ss (%s)\n' "$((SECONDS - start))" "${url}"
}

main() {
    (($# == 1)) || usage
    case "$1" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    wait) cmd_wait ;;
    *) usage ;;
    esac
}

main "$@"
