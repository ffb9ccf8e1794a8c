#!/bin/sh
# Installs what is missing (Debian 12), builds, and runs the demo on the
# default pool.  Usage: ./bootstrap.sh [--no-demo | --bench]
# (--bench runs the benchmark instead of the demo: see bench/README.md)
set -e
cd "$(dirname "$0")"

PKGS="build-essential autoconf automake libtool pkg-config libpmem2-dev \
libdaxctl-dev libcunit1-dev groff-base"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"
case "${1:-}" in
--no-demo) ;;
--bench) make bench ;;
*) make demo ;;
esac
