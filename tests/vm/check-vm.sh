#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/vm/check-vm.sh -- `make check-vm`: the suite on real DAX, in QEMU
# guests with emulated persistent memory (see README.md here).
#
#   1. devdax (memmap= pmem, /dev/dax0.0): tests/test_devdax
#   2. NVDIMM (ACPI NFIT, image file) as devdax: tests/test_reboot write,
#      then a new QEMU process (a reboot) and tests/test_reboot verify
#   3. the same on an fsdax ext4 -o dax file system on the NVDIMM
#   4. fsdax (memmap= pmem, ext4 -o dax): the whole `make check`, pools on DAX
#
# Run from the build directory, after `make check` built the programs.
# Prints PASS/FAIL per phase and "check-vm: N passed, M failed"; exits
# non-zero if any phase failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(pwd)
run="$here/run-vm.sh --share $build"
[ "$build" = "$(cd "$here/../.." && pwd)" ] || run="$run --share $(cd "$here/../.." && pwd)"
img=$(mktemp "${TMPDIR:-/tmp}/pheap-nfit-XXXXXX")
trap 'rm -f "$img"' EXIT

pass=0
fail=0
phase() {
	local name=$1
	shift
	echo "=== check-vm: $name"
	if "$@"; then
		echo "PASS: $name"
		pass=$((pass + 1))
	else
		echo "FAIL: $name (exit $?)"
		fail=$((fail + 1))
	fi
}

phase "devdax: test_devdax" $run --mode devdax --timeout 600 -- \
	sh -c 'PHEAP_TEST_DAXDEV=$PHEAP_VM_DEV ./tests/test_devdax'

for kind in devdax fsdax; do
	rm -f "$img"
	phase "nfit $kind: write before reboot" $run --mode nfit \
		--nfit-mode $kind --nfit-image "$img" --timeout 300 -- \
		sh -c 'PHEAP_POOL=$PHEAP_VM_DEV ./tests/test_reboot write'
	phase "nfit $kind: verify after reboot" $run --mode nfit \
		--nfit-mode $kind --nfit-image "$img" --keep-namespace \
		--timeout 300 -- \
		sh -c 'PHEAP_POOL=$PHEAP_VM_DEV ./tests/test_reboot verify'
done

phase "fsdax: make check on ext4 -o dax" $run --mode fsdax --timeout 1500 \
	--env PHEAP_TEST_DIR=/mnt/pmem -- make check

echo "check-vm: $pass passed, $fail failed"
[ "$fail" = 0 ]
