#!/bin/sh
# deps.sh - installs what building and testing libbullc needs, when it is missing:
# Debian packages (compiler, hiredis, cJSON, cmocka, OpenSSL, redis-server, PostgreSQL, libpq,
# libmicrohttpd for the example workers' HTTP endpoints; libcurl (OpenSSL flavour): its headers
# to build the OTLP trace export, its libcurl.so.4 loaded at run time by traced workers; clang and
# its runtime libraries - libFuzzer, ASan, UBSan - for the fuzz targets) and the pinned npm
# packages of the interop tests and the demo's producers (npm ci from the committed lockfile).
set -eu
cd "$(dirname "$0")/.."

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for p in build-essential pkg-config libhiredis-dev libcjson-dev libcmocka-dev libssl-dev openssl redis-server \
         libpq-dev postgresql nodejs tzdata clang libclang-rt-14-dev libmicrohttpd-dev \
         libcurl4-openssl-dev; do
    case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    postgresql) { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } && continue ;;
    esac
    have_pkg "$p" || need="$need $p"
done
if [ -n "$need" ]; then
    echo "deps: installing$need"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
# Debian's redis-server package starts a system instance; the tests never use it.

if ! command -v npm >/dev/null 2>&1; then
    echo "deps: installing npm"
    apt-get install -y -qq npm >/dev/null
fi
# (a folder of every kind of package: bullmq and bull for the tests, @nestjs/bull for the demo)
if [ ! -d tests/interop/node_modules/bullmq ] || [ ! -d tests/interop/node_modules/@nestjs/bull ] ||
   [ tests/interop/package-lock.json -nt tests/interop/node_modules/.package-lock.json ]; then
    echo "deps: npm ci (tests/interop)"
    (cd tests/interop && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
