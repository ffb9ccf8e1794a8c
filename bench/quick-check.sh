#!/bin/sh
# make check: run the benchmark with --quick in a private, temporary pool.
# It proves every figure runs and every API call succeeds; the numbers of a
# --quick run mean nothing.  Exit status: the benchmark's.
pool=$(mktemp -d "${TMPDIR:-/tmp}/pheap-bench-check.XXXXXX") || exit 99
trap 'rm -rf "$pool"' EXIT
PHEAP_POOL=$pool ./bench/pheap-bench --quick
