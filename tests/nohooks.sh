#!/bin/sh
# nohooks.sh -- the installed library holds no test hook: no testhook_*
# symbol (defined or undefined) in libpheap-pmem.so, and the test-only
# library does hold them (so the check would notice a leak).
lib=.libs/libpheap-pmem.so
testing=.libs/libpheap-testing.a
[ -f "$lib" ] || { echo "no $lib"; exit 99; }
if nm "$lib" | grep -i testhook; then
	echo "FAIL: test hooks in $lib"
	exit 1
fi
if strings "$lib" | grep -E 'hdr\.store\.|dev\.sync\.|PHEAP_TEST_'; then
	echo "FAIL: point names in $lib"
	exit 1
fi
if [ -f "$testing" ] && ! nm "$testing" | grep -q 'T testhook_point'; then
	echo "FAIL: $testing has no testhook_point: is the check blind?"
	exit 1
fi
echo "PASS: no test hooks in $lib"
