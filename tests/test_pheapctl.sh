#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/test_pheapctl.sh -- pheapctl(1), the real binary, on real pools
# (run by `make check`, from the build directory):
#  - every subcommand on the file backend, --help of each, bad arguments
#    (exit 2), --json read back by a real JSON parser (python3);
#  - resize reaches an attached process (tests/ctl_holder);
#  - destroy of an attached pheap: destroyed-pending, the id free again at
#    once, the storage gone when the process detaches; when it is
#    kill -9'd instead (the next list frees it); --wait;
#  - check: a damaged copy, a stale copy (while a process is attached),
#    a wrong file mode, a creation's debris, both copies damaged (never
#    touched), --dry-run (nothing changed);
#  - as root: chown, and uid 65534 denied destroy, chmod, chown, resize,
#    repair (exit 1, nothing changed); skipped when not root.
# format and unformat run on a device only where PHEAP_TEST_DAXDEV names
# one (it is reformatted); elsewhere only their refusals.
#
# The last line is "pheapctl: N passed, M failed".

set -u
export LC_ALL=C
CTL=${PHEAPCTL:-./tools/pheapctl/pheapctl}
HOLDER=${CTL_HOLDER:-./tests/ctl_holder}
command -v python3 >/dev/null || { echo "pheapctl: python3 not found; skipped"; exit 77; }

top=$(mktemp -d "${PHEAP_TEST_DIR:-/tmp}/pheapctl-test.XXXXXX") || exit 99
chmod 0755 "$top"
pool=$top/pool
mkdir -m 1777 "$pool"
export PHEAP_POOL=$pool
holders=()
cleanup() {
	for p in "${holders[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$top"
}
trap cleanup EXIT

passed=0
failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); }
# check NAME COMMAND...: passes if the command succeeds
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
# status NAME EXPECTED COMMAND...: the command's exit status is EXPECTED
status() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$top/out" 2>"$top/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$name"
	else
		bad "$name (exit $got, not $want)"
		sed 's/^/    /' "$top/out" "$top/err"
	fi
}
no() { ! "$@"; }
# jq-like: jget EXPR reads JSON on stdin, prints eval(EXPR) with d = the document
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
path_of() { "$CTL" info --json "$1" | jget 'd["path"]'; }
sum() { md5sum "$@" | cut -d' ' -f1; }

# start_holder ID [ro]: an attached process; its pid in $hpid, fds H_IN/H_OUT
start_holder() {
	coproc HOLD { exec "$HOLDER" "$@"; }
	hpid=$HOLD_PID
	holders+=("$hpid")
	exec {H_IN}>&"${HOLD[1]}" {H_OUT}<&"${HOLD[0]}"
	# only our copies stay open: closing H_IN is then its end of input
	eval "exec ${HOLD[1]}>&- ${HOLD[0]}<&-"
	read -r -t 10 line <&"$H_OUT" || line=""
	[ "${line%% *}" = attached ]
}
ask() { echo "$1" >&"$H_IN"; read -r -t 10 ans <&"$H_OUT" || ans=""; echo "$ans"; }
stop_holder() { exec {H_IN}>&- ; wait "$hpid" 2>/dev/null; exec {H_OUT}<&- ; }

# ---- usage and help ----
for c in list info create destroy chmod chown resize format unformat check; do
	status "$c --help" 0 "$CTL" "$c" --help
done
status "no subcommand" 2 "$CTL"
status "unknown subcommand" 2 "$CTL" bogus
status "list --bogus" 2 "$CTL" list --bogus
status "create without id" 2 "$CTL" create
status "create --size without value" 2 "$CTL" create x --size
status "create --size junk" 2 "$CTL" create x --size 12Q
status "create --mode 999" 2 "$CTL" create x --mode 999
status "destroy bad escape" 2 "$CTL" destroy 'a\q'
status "chmod without mode" 2 "$CTL" chmod x
status "chmod 1777" 2 "$CTL" chmod x 1777
status "resize junk" 2 "$CTL" resize x lots
status "chown no such user" 2 "$CTL" chown x no-such-user-here
status "info without id" 2 "$CTL" info
status "check --bogus" 2 "$CTL" check --bogus
status "format without device" 2 "$CTL" format
status "--pool without value" 2 "$CTL" list --pool
check "nothing was created by bad arguments" \
	[ -z "$(ls -A "$pool")" ]

# ---- create, list, info, resize, chmod ----
status "create a" 0 "$CTL" create a --size 3M --mode 0640
status "create id with odd bytes" 0 "$CTL" create 'b\x00\\\xff'
status "create a again: exists" 1 "$CTL" create a
check "the failure names the id and the reason" \
	grep -q "^pheapctl create: a: a pheap with this id exists" "$top/err"
status "list" 0 "$CTL" list
check "list: a row per pheap, odd id escaped" \
	grep -q '^b\\x00\\\\\\xff ' "$top/out"
check "list: a is 4 MiB (rounded), 0640, ok" \
	grep -Eq '^a +root +root +0640 +4194304 .* ok ' "$top/out"
status "list -u --pids" 0 "$CTL" list -u --pids
check "list -u: human size" grep -Eq '^a .* 4M ' "$top/out"
check "list --json parses" sh -c "'$CTL' list --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
check "list --json: keys and values" [ "$("$CTL" list --json --pids | jget \
	'sorted((p["id_hex"], p["size"], p["mode"], p["state"], p["attached"], p["pids"], p["backend"] in ("file", "fsdax")) for p in d["pheaps"])')" = \
	"[('61', 4194304, '0640', 'ok', 0, [], True), ('62005cff', 0, '0644', 'ok', 0, [], True)]" ]
check "list --json: the id as printed" [ "$("$CTL" list --json | jget \
	'sorted(p["id"] for p in d["pheaps"]) == ["a", "b\\x00\\\\\\xff"]')" = True ]
status "info a" 0 "$CTL" info a
check "info: both copies valid" [ "$(grep -c 'valid, sequence' "$top/out")" = 2 ]
check "info: file system" grep -q '^file system:' "$top/out"
check "info --json parses, by id and by path" sh -c "'$CTL' info --json a | python3 -c 'import json,sys; json.load(sys.stdin)' &&
	'$CTL' info --json '$(path_of a)' | python3 -c 'import json,sys; json.load(sys.stdin)'"
check "info --json: fields" [ "$("$CTL" info --json 'b\x00\\\xff' | jget \
	'(d["id_hex"], d["size"], d["base"], d["data_offset"], [c["state"] for c in d["copies"]], d["filesystem"]["type"] != "")')" = \
	"('62005cff', 0, '0x2a0002000000', 2097152, ['valid', 'valid'], True)" ]
status "info of an absent id" 1 "$CTL" info nothere
status "create c --base" 0 "$CTL" create c --base 0x300000000000
check "c has that base" [ "$("$CTL" info --json c | jget 'd["base"]')" = 0x300000000000 ]
status "create d --base unaligned: refused, nothing made" 1 "$CTL" create d --base 0x300000001000
status "info d" 1 "$CTL" info d

check "a process attaches to a" start_holder a
status "resize a 10M while attached" 0 "$CTL" resize a 10M
check "the attached process sees 10 MiB at once" [ "$(ask size)" = 10485760 ]
check "and may touch its last byte" [ "$(ask touch)" = touched ]
status "chmod a 0600 while attached" 0 "$CTL" chmod a 0600
check "mode in header and on the file" [ "$("$CTL" info --json a | jget '(d["mode"], d["file_mode"])')" = "('0600', '0600')" ]
status "list --pids while attached" 0 "$CTL" list --pids
check "list: a attached by the holder" grep -Eq "^a .* 1 +$hpid +ok " "$top/out"
status "check while attached: healthy" 0 "$CTL" check

# ---- destroy ----
pa=$(path_of a)
status "destroy a while attached" 0 "$CTL" destroy a
check "destroy says pending" grep -q 'destroyed; freed when' "$top/out"
status "list" 0 "$CTL" list
check "list shows a destroyed-pending" grep -Eq '^a .* destroyed-pending ' "$top/out"
check "a's file left its name" [ ! -e "$pa" ]
status "nobody attaches to a any more" 1 "$CTL" resize a 4M
status "a may be created again at once" 0 "$CTL" create a
check "the attached process still has its heap" [ "$(ask size)" = 10485760 ]
check "and it detaches" [ "$(ask detach)" = detached ]
stop_holder
status "list" 0 "$CTL" list
r=no; [ "$(grep -c '^a ' "$top/out")" = 1 ] && ! grep -q destroyed "$top/out" && r=yes
check "the destroyed a is gone, the new a stays" [ $r = yes ]
check "no destroyed file left" [ -z "$(ls -A "$pool" | grep destroyed)" ]
status "destroy a (unattached): gone at once" 0 "$CTL" destroy a
check "nothing printed, file gone" [ ! -s "$top/out" -a ! -e "$pa" ]

status "create k" 0 "$CTL" create k --size 2M
check "a process attaches to k" start_holder k
status "destroy k while attached" 0 "$CTL" destroy k
kill -9 "$hpid"
stop_holder
status "list after kill -9 of the attached process" 0 "$CTL" list
check "k is gone: the list freed it" no grep -q '^k ' "$top/out"
check "no destroyed file left after kill -9" [ -z "$(ls -A "$pool" | grep destroyed)" ]

status "create w" 0 "$CTL" create w
check "a process attaches to w" start_holder w
"$CTL" destroy --wait w >"$top/wait.out" 2>&1 &
waiter=$!
sleep 0.5
check "destroy --wait waits while attached" kill -0 "$waiter"
check "w is destroyed-pending meanwhile" sh -c "'$CTL' list | grep -Eq '^w .* destroyed-pending '"
ask detach >/dev/null
stop_holder
wait "$waiter"
check "destroy --wait returns 0 once detached" [ $? -eq 0 ]
check "w's storage is gone" [ -z "$(ls -A "$pool" | grep destroyed)" ]
status "destroy of an absent id" 1 "$CTL" destroy w

# ---- check and repair ----
status "create r" 0 "$CTL" create r --size 2M
pr=$(path_of r)
status "check: healthy" 0 "$CTL" check
printf '\377' | dd of="$pr" bs=1 seek=100 conv=notrunc status=none
status "check: a damaged copy" 1 "$CTL" check
check "it names copy 0" grep -q 'header copy 0 (at 0) is damaged' "$top/out"
before=$(sum "$pr")
status "check --repair --dry-run" 1 "$CTL" check --repair --dry-run
r=no; grep -q 'would repair' "$top/out" && [ "$(sum "$pr")" = "$before" ] && r=yes
check "dry run says what it would do, changes nothing" [ $r = yes ]
status "check --repair" 0 "$CTL" check --repair
check "repaired the header" grep -q 'repaired header' "$top/out"
status "check: healthy again" 0 "$CTL" check r

# a stale copy: copy 1 as it was before a resize, under a live process
dd if="$pr" of="$top/old" bs=512 count=1 status=none
check "a process attaches to r" start_holder r
status "resize r 6M" 0 "$CTL" resize r 6M
dd if="$top/old" of="$pr" bs=512 seek=8 conv=notrunc status=none
status "check: a stale copy" 1 "$CTL" check "$pr"
check "it names copy 1 stale" grep -q 'header copy 1 (at 4096) is stale' "$top/out"
status "check --repair while attached" 0 "$CTL" check --repair r
status "check: healthy" 0 "$CTL" check r
check "the attached process kept 6 MiB" [ "$(ask size)" = 6291456 ]
check "the header kept 6 MiB" [ "$("$CTL" info --json r | jget 'd["size"]')" = 6291456 ]
ask detach >/dev/null
stop_holder

chmod 0666 "$pr"
status "check: a wrong file mode" 1 "$CTL" check
check "it names the modes" grep -q "file's mode is 0666, the header's 0644" "$top/out"
status "check --repair" 0 "$CTL" check --repair
check "the file has the header's mode" [ "$(stat -c %a "$pr")" = 644 ]

# debris: a creation's hidden file whose creator (a dead pid) is gone
deadpid=$(($(cat /proc/sys/kernel/pid_max) - 1))
while kill -0 "$deadpid" 2>/dev/null; do deadpid=$((deadpid - 1)); done
dd if="$pr" of="$pool/.tmp-$deadpid-00000000deadbeef" bs=1M count=2 status=none
status "check: debris" 1 "$CTL" check
check "it names the leftover" grep -q 'left by a creation that crashed' "$top/out"
status "check --repair removes it" 0 "$CTL" check --repair
check "debris gone" [ ! -e "$pool/.tmp-$deadpid-00000000deadbeef" ]

# both copies damaged: reported, never touched
printf '\377' | dd of="$pr" bs=1 seek=100 conv=notrunc status=none
printf '\377' | dd of="$pr" bs=1 seek=4196 conv=notrunc status=none
before=$(sum "$pr")
status "check --repair: both copies damaged" 1 "$CTL" check --repair
check "reported as not touched" grep -q 'no valid header copy: not touched' "$top/out"
check "and not touched" [ "$(sum "$pr")" = "$before" ]
status "list shows it damaged" 0 "$CTL" list
check "damaged row" grep -q ' damaged ' "$top/out"
rm -f "$pr"

# ---- devices ----
status "format of a regular file: refused" 1 "$CTL" format "$(path_of c)"
check "the failure names the path" grep -q "$(path_of c): .*not a device-dax" "$top/err"
status "unformat of a regular file: refused" 1 "$CTL" unformat "$(path_of c)"
if [ -n "${PHEAP_TEST_DAXDEV:-}" ]; then
	dax=$PHEAP_TEST_DAXDEV
	status "format --force $dax" 0 "$CTL" format --force "$dax"
	status "list with the device" 0 "$CTL" --pool "$pool:$dax" list
	check "the device is free" grep -q ' free device ' "$top/out"
	status "create on the device" 0 "$CTL" --pool "$dax" create dx --size 2M
	status "unformat with a pheap: refused" 1 "$CTL" unformat "$dax"
	status "destroy dx: the device is free again" 0 "$CTL" --pool "$dax" destroy dx
	status "list" 0 "$CTL" --pool "$dax" list
	check "free device" grep -q ' free device ' "$top/out"
	status "unformat" 0 "$CTL" unformat "$dax"
	status "list: not in the pool" 0 "$CTL" --pool "$dax" list
	check "no row" [ "$(wc -l <"$top/out")" = 1 ]
	status "format again" 0 "$CTL" format "$dax"
else
	echo "(no PHEAP_TEST_DAXDEV: format and unformat of a device skipped)"
fi

# ---- other users (root only) ----
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "(not root: chown and the permission checks skipped)"
else
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	status "create p (root's, 0644)" 0 "$CTL" create p --size 2M
	pp=$(path_of p)
	before=$(sum "$pp")$(stat -c %a%u "$pp")
	status "nobody may list" 0 as_nobody "$CTL" list
	status "nobody may not destroy p" 1 as_nobody "$CTL" destroy p
	check "the failure names p and the owner" grep -q "p: .*only its owner (uid 0) or root" "$top/err"
	status "nobody may not chmod p" 1 as_nobody "$CTL" chmod p 0666
	status "nobody may not resize p" 1 as_nobody "$CTL" resize p 8M
	status "nobody may not chown p" 1 as_nobody "$CTL" chown p 65534
	chmod 0604 "$pp"	# a mode to repair, and readable by nobody
	status "nobody may not repair p" 1 as_nobody "$CTL" check --repair p
	chmod 0644 "$pp"
	r=no; [ "$(sum "$pp")$(stat -c %a%u "$pp")" = "$before" ] &&
		[ "$("$CTL" info --json p | jget '(d["state"], d["size"], d["mode"])')" = "('ok', 2097152, '0644')" ] && r=yes
	check "p unchanged" [ $r = yes ]
	# numbers: a guest without /etc/passwd names (check-vm) has them too
	status "chown p 65534:65534" 0 "$CTL" chown p 65534:65534
	r=no; [ "$(stat -c %u:%g "$pp")" = 65534:65534 ] &&
		[ "$("$CTL" info --json p | jget '(d["uid"], d["header_uid"], d["header_gid"], d["trusted"])')" = "(65534, 65534, 65534, True)" ] && r=yes
	check "file and header name nobody" [ $r = yes ]
	status "now nobody may chmod p" 0 as_nobody "$CTL" chmod p 0600
	status "and destroy it" 0 as_nobody "$CTL" destroy p
	check "p is gone" [ ! -e "$pp" ]
fi

echo "pheapctl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
