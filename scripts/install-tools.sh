#!/usr/bin/env bash
# Installs the external programs the tests (or benchmarks) run for real, when they are missing:
# Prometheus + promtool, Alertmanager + amtool, PostgreSQL server binaries, Chromium + ChromeDriver,
# libfaketime (tests); wrk and the Pushgateway (benchmarks). Debian packages, installed with apt-get.
set -euo pipefail
what=${1:-test}

missing=()
need() {  # need PACKAGE CHECK-COMMAND...
  local pkg=$1; shift
  "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
pg_server() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
faketime_library() { compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null; }

case "$what" in
  test)
    need prometheus command -v promtool
    need prometheus command -v prometheus
    need prometheus-alertmanager command -v prometheus-alertmanager
    need prometheus-alertmanager command -v amtool
    need postgresql pg_server
    need chromium command -v chromium
    need chromium-driver command -v chromedriver
    need fonts-liberation test -d /usr/share/fonts/truetype/liberation
    need faketime command -v faketime
    need libfaketime faketime_library
    ;;
  bench)
    need wrk command -v wrk
    need prometheus-pushgateway command -v prometheus-pushgateway
    need postgresql pg_server
    need prometheus command -v prometheus
    need prometheus-alertmanager command -v prometheus-alertmanager
    ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing missing tools: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "need root to run: apt-get install ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
