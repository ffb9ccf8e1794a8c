#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/vm/check-vm.sh -- `make check-vm`: the suite on real DAX, in QEMU
# guests with emulated persistent memory (see README.md here).
#
#   1. devdax (memmap= pmem, /dev/dax0.0): tests/test_devdax, on a 2 MiB
#      aligned namespace, then on a 1 GiB aligned one (4 GiB of pmem: the
#      namespace loses its first GiB to the info block and its padding);
#      tests/test_pheapctl.sh with the device (format, list, info, export,
#      import on it) on the 2 MiB one
#   2. NVDIMM (ACPI NFIT, image file) as devdax: tests/test_reboot write,
#      then a new QEMU process (a reboot) and tests/test_reboot verify
#   3. the same on an fsdax ext4 -o dax file system on the NVDIMM
#   4. power cut after pbrk (tests/test_powercut): QEMU is killed as soon as
#      pbrk has returned, a new QEMU checks break, file size and data; on
#      ext4 -o dax and on ext4 without DAX (page cache), both on the NVDIMM
#      and mounted with commit=600 (see README.md)
#   5. fsdax (memmap= pmem, ext4 -o dax): the whole `make check`, pools on DAX
#
# Run from the build directory, after `make check` built the programs.
# Prints PASS/FAIL per phase and "check-vm: N passed, M failed"; exits
# non-zero if any phase failed. CHECK_VM_ONLY=REGEX runs only the phases
# whose name matches REGEX (grep -E), e.g. CHECK_VM_ONLY='power cut'.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(pwd)
run="$here/run-vm.sh --share $build"
[ "$build" = "$(cd "$here/../.." && pwd)" ] || run="$run --share $(cd "$here/../.." && pwd)"
img=$(mktemp "${TMPDIR:-/tmp}/pheap-nfit-XXXXXX")
cutlog=$(mktemp "${TMPDIR:-/tmp}/pheap-cut-XXXXXX")
trap 'rm -f "$img" "$cutlog"' EXIT

pass=0
fail=0
phase() {
	local name=$1
	shift
	if [ -n "${CHECK_VM_ONLY:-}" ] && ! echo "$name" | grep -Eq -- "$CHECK_VM_ONLY"; then
		return 0
	fi
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
phase "devdax: test_pheapctl.sh" $run --mode devdax --timeout 600 -- \
	sh -c 'PHEAP_TEST_DAXDEV=$PHEAP_VM_DEV ./tests/test_pheapctl.sh'
phase "devdax 1G: test_devdax" $run --mode devdax --dax-align 1G \
	--pmem-size 4G --timeout 900 -- \
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

# Power cut right after pbrk: the guest program prints the break pbrk
# returned and sleeps; run-vm.sh --power-cut SIGKILLs QEMU at that line.
# commit=600: the guest's ext4 commits its journal on its own only every
# 600 s, so the file's new size and blocks are durable only if something
# in pbrk committed them (the library's sync of the header, or on DAX the
# MAP_SYNC write faults of the populate).
for fs in "fsdax:fsdax:dax,commit=600" "ext4 page cache:file:dax=never,commit=600"; do
	name=${fs%%:*} backend=${fs#*:} opts=${fs##*:}
	backend=${backend%%:*}
	rm -f "$img" "$cutlog"
	phase "nfit $name: power cut after pbrk" $run --mode nfit \
		--nfit-mode fsdax --nfit-image "$img" --mount-opts "$opts" \
		--power-cut '^POWERCUT-READY brk=0x[0-9a-f]+ ' --log "$cutlog" \
		--env PHEAP_POWERCUT_BACKEND="$backend" --timeout 300 -- \
		sh -c 'PHEAP_POOL=$PHEAP_VM_DEV ./tests/test_powercut cut'
	brk=$(sed -n 's/^POWERCUT-READY brk=\(0x[0-9a-f]*\) .*/\1/p' "$cutlog" 2>/dev/null | tail -n 1)
	phase "nfit $name: verify after the power cut" $run --mode nfit \
		--nfit-mode fsdax --nfit-image "$img" --keep-namespace \
		--mount-opts "$opts" --env PHEAP_POWERCUT_BACKEND="$backend" \
		--timeout 300 -- \
		sh -c 'PHEAP_POOL=$PHEAP_VM_DEV ./tests/test_powercut verify "$1"' \
		sh "${brk:-none}"
done

phase "fsdax: make check on ext4 -o dax" $run --mode fsdax --timeout 1500 \
	--env PHEAP_TEST_DIR=/mnt/pmem -- make check

echo "check-vm: $pass passed, $fail failed"
[ "$fail" = 0 ]
