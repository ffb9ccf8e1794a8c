#!/usr/bin/env bash
# smoke-test.sh -- check the VM harness itself (see README.md).
#
# Builds daxprobe.c with cc (not with the project's Makefile) and boots the
# guest once per case through run-vm.sh:
#   - devdax, fsdax, nfit/devdax and nfit/fsdax: map the pmem with libpmem2,
#     write and persist a pattern (and for nfit, verify it on a second boot
#     with --keep-namespace: a real power cycle of the NVDIMM image);
#   - exit status propagation: a probe that fails on purpose (exit 2), a
#     plain `exit 42`, a guest setup failure (125) and a hung command killed
#     by --timeout (124).
#
#   smoke-test.sh [--cache DIR] [--quick]
#
# --quick runs only the four pmem modes. Ends with "N passed, N failed" and
# exits non-zero if any case failed.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${PHEAP_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pheap-vm}
QUICK=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--cache) CACHE=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "smoke-test: unknown argument $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# The probe needs a compiler and libpmem2's headers. libdaxctl's headers
# are not used by the probe but by the library itself.
need=()
command -v cc >/dev/null || need+=(gcc)
[[ -f /usr/include/libpmem2.h ]] || need+=(libpmem2-dev)
[[ -f /usr/include/daxctl/libdaxctl.h ]] || need+=(libdaxctl-dev)
if [[ ${#need[@]} -gt 0 ]]; then
	if [[ $(id -u) != 0 ]]; then
		echo "smoke-test: SKIP: missing packages ${need[*]} (not root)" >&2
		exit 77
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${need[@]}" >&2; }
fi

# The probe lives in its own directory, which is the only thing shared
# into the guest (it becomes the guest's working directory).
WORK=$CACHE/smoke
mkdir -p "$WORK"
cc -O2 -Wall -Wextra -o "$WORK/daxprobe" "$VM_DIR/daxprobe.c" -lpmem2
IMG=$WORK/nfit-smoke.img
rm -f "$IMG"

PASS=0 FAIL=0
FAILED=()

# check NAME EXPECTED-STATUS GREP-PATTERN... -- RUN-VM-ARGS...
# Runs run-vm.sh, then checks its exit status and that the console output
# contains every pattern.
check() {
	local name=$1 want=$2 pats=() rc=0 t0 t1 p ok=1
	shift 2
	while [[ $1 != -- ]]; do pats+=("$1"); shift; done
	shift
	echo "=== $name"
	t0=$(date +%s.%N)
	(cd "$WORK" && "$VM_DIR/run-vm.sh" --cache "$CACHE" --share "$WORK" \
		--log "$WORK/$name.log" "$@") || rc=$?
	t1=$(date +%s.%N)
	if [[ $rc != "$want" ]]; then
		echo "--- $name: exit status $rc, expected $want"
		ok=0
	fi
	for p in "${pats[@]}"; do
		if ! grep -q -- "$p" "$WORK/$name.log" 2>/dev/null; then
			echo "--- $name: console output lacks: $p"
			ok=0
		fi
	done
	if [[ $ok == 1 ]]; then
		PASS=$((PASS + 1))
		awk -v n="$name" -v rc="$rc" -v a="$t0" -v b="$t1" \
			'BEGIN { printf "--- PASS %s (exit %s, %.1f s)\n", n, rc, b - a }'
	else
		FAIL=$((FAIL + 1))
		FAILED+=("$name")
		echo "--- FAIL $name"
	fi
}

GRAN='store granularity: CACHE_LINE'
check devdax 0 "$GRAN" 'KernelPageSize: *2048 kB' 'pattern OK' -- \
	--mode devdax -- ./daxprobe write
check fsdax 0 "$GRAN" 'dev=/mnt/pmem' 'pattern OK' -- \
	--mode fsdax -- ./daxprobe write
check nfit-devdax-write 0 "$GRAN" 'KernelPageSize: *2048 kB' 'wrote and persisted' -- \
	--mode nfit --nfit-image "$IMG" --nfit-mode devdax -- ./daxprobe write
check nfit-devdax-reboot 0 "$GRAN" 'pattern OK' -- \
	--mode nfit --nfit-image "$IMG" --nfit-mode devdax --keep-namespace -- ./daxprobe verify
check nfit-fsdax-write 0 "$GRAN" 'wrote and persisted' -- \
	--mode nfit --nfit-image "$IMG" --nfit-mode fsdax -- ./daxprobe write
check nfit-fsdax-reboot 0 "$GRAN" 'pattern OK' -- \
	--mode nfit --nfit-image "$IMG" --nfit-mode fsdax --keep-namespace -- ./daxprobe verify

if [[ $QUICK == 0 ]]; then
	# memmap pmem is RAM: a fresh boot has no pattern, the probe exits 2.
	check fail-probe 2 'FAIL: no pattern header' -- \
		--mode devdax -- ./daxprobe verify
	# Arguments arrive intact (quotes, $, spaces) and the status propagates.
	# shellcheck disable=SC2016 # $1 is for the guest shell
	check exit-42 42 "arg=it's .HOME & co" -- \
		--mode devdax -- sh -c 'echo "arg=$1"; exit 42' sh "it's \$HOME & co"
	# The image now holds an fsdax namespace: asking to keep a devdax one
	# is a guest setup failure.
	check setup-failure 125 'PHEAP-VM-ERROR: --keep-namespace' -- \
		--mode nfit --nfit-image "$IMG" --nfit-mode devdax --keep-namespace -- ./daxprobe verify
	check timeout 124 -- \
		--mode devdax --timeout 15 -- sleep 600
fi

echo
[[ $FAIL == 0 ]] || echo "failed: ${FAILED[*]}"
echo "smoke-test: $PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
