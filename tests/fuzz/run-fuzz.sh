#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-fuzz.sh -- builds the libFuzzer targets with clang (straight from the
# library's sources, outside libtool) and runs each for a bounded time.
# Called by `make fuzz`; see tests/README.md.
#
#   FUZZ_SECONDS  total time, split between the targets (default 60)
#   FUZZ_BUILD    where binaries, working corpora and artifacts go
#                 (default ./build-fuzz, git-ignored)
#   FUZZ_CC       the compiler (default clang)
#
# Fails if a target does not build, or finds a crash, a leak or a timeout
# (the reproducer is left in $FUZZ_BUILD/artifacts/).
#
# `run-fuzz.sh corpus` (make fuzz-corpus) instead rewrites the seed corpus
# in tests/fuzz/corpus/ with tests/fuzz/gen_corpus.c.
set -eu

srcdir=${srcdir:-.}
builddir=${builddir:-.}
cc=${FUZZ_CC:-clang}
total=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD:-$builddir/build-fuzz}
pkgs="libpmem2 libdaxctl"

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang)" >&2; exit 1; }
mkdir -p "$out/artifacts"

CFLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Wvla -Werror
	-include $builddir/config.h -I$srcdir/include -I$srcdir/src
	-I$srcdir/tests/fuzz $(pkg-config --cflags $pkgs)"
LIBS="$(pkg-config --libs $pkgs) -lpthread"
LIB_SRCS="errmsg header dev backend_file backend_devdax pool pool_create
	reservation lock brklock sync daxdev format owner mcsafe attach brk chmod
	info offline destroy pool_stat pool_list chown repair"
all_srcs=""
for s in $LIB_SRCS; do all_srcs="$all_srcs $srcdir/src/$s.c"; done

build() {	# name, sources...
	name=$1; shift
	echo "fuzz: building $out/$name"
	# shellcheck disable=SC2086
	$cc $CFLAGS -o "$out/$name" "$@" $LIBS
}
if [ "${1:-}" = corpus ]; then
	# shellcheck disable=SC2086
	$cc $(echo "$CFLAGS" | sed 's/fuzzer,//') -o "$out/gen_corpus" \
		"$srcdir/tests/fuzz/gen_corpus.c" $all_srcs $LIBS
	rm -f "$srcdir"/tests/fuzz/corpus/header/seed-* \
		"$srcdir"/tests/fuzz/corpus/pool/seed-*
	"$out/gen_corpus" "$srcdir/tests/fuzz/corpus"
	ls -l "$srcdir"/tests/fuzz/corpus/*
	exit 0
fi

build fuzz_header "$srcdir/tests/fuzz/fuzz_header.c" \
	"$srcdir/src/header.c" "$srcdir/src/errmsg.c"
# shellcheck disable=SC2086
build fuzz_pool "$srcdir/tests/fuzz/fuzz_pool.c" $all_srcs

# the header target runs ~1000x faster: a third of the time is plenty
t_header=$((total / 3))
[ "$t_header" -ge 1 ] || t_header=1
t_pool=$((total - t_header))
[ "$t_pool" -ge 1 ] || t_pool=1

status=0
run() {	# name, seconds, max_len, extra options...
	name=$1 secs=$2 maxlen=$3; shift 3
	work="$out/corpus-${name#fuzz_}"
	mkdir -p "$work"
	log="$out/$name.log"
	echo "fuzz: $name for ${secs}s (-max_len=$maxlen)"
	set +e
	"$out/$name" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$name-" "$@" \
		"$work" "$srcdir/tests/fuzz/corpus/${name#fuzz_}" >"$log" 2>&1
	rc=$?
	set -e
	# the last status line, and the final stats
	grep -E '^#[0-9]+' "$log" | tail -n 1 | sed "s/^/fuzz: $name: /"
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
		"$log" | sed "s/^/fuzz: $name: /"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz: $name FAILED (exit $rc), see $log:" >&2
		grep -E 'ERROR|SUMMARY|check failed|Test unit written' "$log" | head -n 20 >&2
		status=1
	fi
}
run fuzz_header "$t_header" 1025
run fuzz_pool "$t_pool" 8192
exit $status
