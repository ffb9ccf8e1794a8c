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
#  - export and import: round trips byte-exact (raw, and --archive across
#    two pools), ranges, an import past the break (exit 1, the heap
#    unchanged), an import seen by an attached process, damaged archives
#    (a flipped byte in the header, a chunk, the trailer; truncated;
#    trailing garbage: exit 1, no pheap created), an existing id, the
#    progress line on a terminal (script(1)) and none when piped;
#  - as root: chown, and uid 65534 denied destroy, chmod, chown, resize,
#    repair, import, export of a 0600 pheap (exit 1, nothing changed);
#    skipped when not root.
# format and unformat, and list, info, export and import on a device, run
# only where PHEAP_TEST_DAXDEV names one (it is reformatted; make check-vm
# does); elsewhere only the refusals of format and unformat.
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
for c in list info create destroy chmod chown resize format unformat check export import; do
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
status "export without a file" 2 "$CTL" export x
status "export --offset junk" 2 "$CTL" export x "$top/f" --offset junk
status "export --length without value" 2 "$CTL" export x "$top/f" --length
status "export --archive with --offset" 2 "$CTL" export --archive x "$top/f" --offset 0
status "export: too many arguments" 2 "$CTL" export x "$top/f" "$top/g"
status "import without an id" 2 "$CTL" import "$top/f"
status "import --length (export's)" 2 "$CTL" import "$top/f" x --length 1
status "import --archive without a file" 2 "$CTL" import --archive
status "import --archive bad id" 2 "$CTL" import --archive "$top/f" 'a\q'
status "import --bogus" 2 "$CTL" import --bogus "$top/f" x
check "no file made by bad arguments" [ ! -e "$top/f" ]
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

# ---- export and import ----
pool2=$top/pool2 pool3=$top/pool3
mkdir -m 1777 "$pool2" "$pool3"
head -c 4194304 /dev/urandom >"$top/rnd"
# bytes [OFF, OFF+LEN) of FILE
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
# flip FILE OFFSET: a copy of the archive with one bit of one byte flipped
flip() {
	cp "$top/x.ar" "$1"
	printf "\\$(printf %03o $(( $(od -An -tu1 -j"$2" -N1 "$1") ^ 4 )))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
status "create x (own base, 0640)" 0 "$CTL" create x --size 4M --mode 0640 --base 0x310000000000
status "import a file into x" 0 "$CTL" import "$top/rnd" x
status "export x" 0 "$CTL" export x "$top/x.out"
check "export: the bytes imported" cmp -s "$top/rnd" "$top/x.out"
check "the export has the pheap's mode" [ "$(stat -c %a "$top/x.out")" = 640 ]
status "export --offset --length" 0 "$CTL" export x "$top/r.out" --offset 1M --length 100
check "export of a range: those bytes" cmp -s <(slice "$top/rnd" 1048576 100) "$top/r.out"
status "export --offset to the break, to stdout" 0 "$CTL" export --offset 0x3ff000 x -
check "export to stdout: the last 4 KiB" cmp -s <(slice "$top/rnd" 4190208 4096) "$top/out"
status "export past the break" 1 "$CTL" export x "$top/no.out" --offset 3M --length 2M
check "it says so, and makes no file" sh -c "grep -q 'x: the range .* is not inside the heap' '$top/err' && [ ! -e '$top/no.out' ]"
status "export --offset past the break" 1 "$CTL" export x "$top/no.out" --offset 5M
printf 'imported bytes..' >"$top/small"
status "import at an offset" 0 "$CTL" import "$top/small" x --offset 0x1000
check "export reads them back" [ "$("$CTL" export x - --offset 4096 --length 16)" = 'imported bytes..' ]
before=$(sum "$(path_of x)")
status "import past the break" 1 "$CTL" import "$top/rnd" x --offset 1
check "it names x and says nothing was written" grep -q "x: .*does not fit at offset 0x1: the heap ends at 0x400000 .*nothing written" "$top/err"
status "import from a pipe past the break" 1 sh -c "cat '$top/rnd' '$top/small' | '$CTL' import - x"
status "import at an offset past the break" 1 "$CTL" import "$top/small" x --offset 4M
check "x unchanged" [ "$(sum "$(path_of x)")" = "$before" ]
status "import into an absent id" 1 "$CTL" import "$top/small" nothere
status "import of an absent file" 1 "$CTL" import "$top/nofile" x
check "it names the file" grep -q "import: $top/nofile: No such file" "$top/err"
status "export to its own file: refused" 1 "$CTL" export x "$(path_of x)"
check "x still unchanged" [ "$(sum "$(path_of x)")" = "$before" ]

check "a process attaches to x" start_holder x
status "import from a pipe while attached" 0 sh -c "printf 'seen by a peer!!' | '$CTL' import - x --offset 0x200000"
check "the attached process sees the bytes" [ "$(ask 'peek 0x200000')" = "$(printf 'seen by a peer!!' | od -An -tx1 | tr -d ' \n')" ]
check "it writes its last byte" [ "$(ask touch)" = touched ]
check "export sees it, while attached" [ "$("$CTL" export x - --offset 0x3fffff --length 1 | od -An -tu1 | tr -d ' ')" = 1 ]
status "export --archive while attached" 0 "$CTL" export --archive x "$top/x.ar"
ask detach >/dev/null
stop_holder
"$CTL" export x "$top/x.out"
check "the archive's size: header, 4 chunks, trailer" [ "$(stat -c %s "$top/x.ar")" = $((512 + 4 * (16 + 1048576) + 32)) ]
check "the archive starts with its magic" [ "$(head -c 8 "$top/x.ar")" = PHEAPARC ]

status "import --archive into another pool" 0 "$CTL" --pool "$pool2" import --archive "$top/x.ar"
check "the same bytes there" cmp -s "$top/x.out" <("$CTL" --pool "$pool2" export x -)
check "the same base, size and mode" [ "$("$CTL" --pool "$pool2" info --json x | jget '(d["base"], d["size"], d["mode"], d["state"])')" = \
	"('0x310000000000', 4194304, '0640', 'ok')" ]
check "a process attaches to the imported x" sh -c "echo detach | PHEAP_POOL='$pool2' '$HOLDER' x | grep -q '^detached'"
status "import --archive from a pipe, under another id" 0 sh -c "cat '$top/x.ar' | '$CTL' --pool '$pool2' import --archive - 'x\\x01copy'"
check "the copy has the bytes" cmp -s "$top/x.out" <("$CTL" --pool "$pool2" export 'x\x01copy' -)
px2=$(PHEAP_POOL=$pool2 path_of x)
before=$(sum "$px2")
status "import --archive where the id exists" 1 "$CTL" --pool "$pool2" import --archive "$top/x.ar"
check "it says the id exists" grep -q "import: x: a pheap with this id exists" "$top/err"
check "pool2 unchanged: two pheaps, x's file as it was" [ "$(ls -A "$pool2" | wc -l)" = 2 -a "$(sum "$px2")" = "$before" ]
status "import --archive of a raw export" 1 "$CTL" --pool "$pool3" import --archive "$top/x.out"
check "it is not an archive" grep -q 'not a pheap archive' "$top/err"
arsize=$(stat -c %s "$top/x.ar")
for at in "header:30" "id:88" "chunk head:520" "chunk 0:1000" "chunk 3:$((arsize - 100))" "trailer:$((arsize - 8))"; do
	flip "$top/bad.ar" "${at#*:}"
	status "a flipped byte in the ${at%:*}: refused" 1 "$CTL" --pool "$pool3" import --archive "$top/bad.ar"
done
check "the last names the trailer" grep -q 'the trailer (archive bytes .*) is damaged' "$top/err"
flip "$top/bad.ar" 2000000
status "a flipped byte in chunk 1" 1 "$CTL" --pool "$pool3" import --archive "$top/bad.ar" y
check "it locates the chunk" grep -q "chunk 1 of 4 (heap bytes 0x100000 to 0x1fffff, archive bytes 1049104 to 2097695) is damaged: checksum mismatch" "$top/err"
status "a flipped byte in chunk 1, from a pipe" 1 sh -c "cat '$top/bad.ar' | '$CTL' --pool '$pool3' import --archive -"
head -c $((arsize - 1)) "$top/x.ar" >"$top/bad.ar"
status "a truncated archive" 1 "$CTL" --pool "$pool3" import --archive "$top/bad.ar"
check "it says truncated" grep -q 'truncated' "$top/err"
status "a truncated archive from a pipe" 1 sh -c "head -c 3000000 '$top/x.ar' | '$CTL' --pool '$pool3' import --archive -"
status "an archive cut inside its header" 1 sh -c "head -c 100 '$top/x.ar' | '$CTL' --pool '$pool3' import --archive -"
{ cat "$top/x.ar"; printf x; } >"$top/bad.ar"
status "trailing garbage" 1 "$CTL" --pool "$pool3" import --archive "$top/bad.ar"
check "it says trailing garbage" grep -q 'trailing garbage' "$top/err"
check "no pheap created by a damaged archive" [ -z "$(ls -A "$pool3")" ]
status "create e (empty)" 0 "$CTL" create e
status "export --archive of an empty heap" 0 "$CTL" export --archive e "$top/e.ar"
status "import --archive of it" 0 "$CTL" --pool "$pool3" import --archive "$top/e.ar"
check "an empty pheap" [ "$("$CTL" --pool "$pool3" info --json e | jget '(d["size"], d["base"])')" = "(0, '0x2a0002000000')" ]

# SIGTERM: an export removes its part-written file, an import --archive
# destroys its new pheap -- or each finished first, whole
status "create big (256 MiB)" 0 "$CTL" create big --size 256M
status "import into big" 0 "$CTL" import "$top/rnd" big --offset 200M
status "export --archive big" 0 "$CTL" export --archive big "$top/big.ar"
"$CTL" export --archive big "$top/k.ar" 2>"$top/err" & kpid=$!
sleep 0.2; kill -TERM "$kpid"; wait "$kpid"; rc=$?
r=no; { [ $rc = 143 ] && [ ! -e "$top/k.ar" ]; } || { [ $rc = 0 ] &&
	[ "$(stat -c %s "$top/k.ar")" = "$(stat -c %s "$top/big.ar")" ]; } && r=yes
check "export killed by SIGTERM (exit $rc): no file, or a whole one" [ $r = yes ]
n3=$(ls -A "$pool3" | wc -l)
"$CTL" --pool "$pool3" import --archive "$top/big.ar" 2>"$top/err" & kpid=$!
sleep 0.3; kill -TERM "$kpid"; wait "$kpid"; rc=$?
r=no; { [ $rc = 143 ] && [ "$(ls -A "$pool3" | wc -l)" = "$n3" ]; } || { [ $rc = 0 ] &&
	cmp -s <("$CTL" export big -) <("$CTL" --pool "$pool3" export big -); } && r=yes
check "import --archive killed by SIGTERM (exit $rc): no pheap, or a whole one" [ $r = yes ]
"$CTL" --pool "$pool3" destroy big 2>/dev/null
status "destroy big" 0 "$CTL" destroy big
rm -f "$top/big.ar" "$top/k.ar"

# progress: on a terminal (script(1) gives one), never when piped
if command -v script >/dev/null; then
	# the reader sleeps: the export waits on the pipe longer than 0.1 s
	script -qec "'$CTL' export x - | (sleep 0.5; cat >/dev/null)" /dev/null >"$top/tty" 2>&1
	check "a progress line on a terminal" grep -q 'export: 100% 4M of 4M' "$top/tty"
	"$CTL" export x - 2>"$top/err" | (sleep 0.5; cat >/dev/null)
	check "none when stderr is not a terminal" [ ! -s "$top/err" ]
fi

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
	status "list on the device" 0 "$CTL" --pool "$dax" list
	check "dx listed: devdax, ok" grep -Eq '^dx .* devdax .* ok ' "$top/out"
	status "info on the device" 0 "$CTL" --pool "$dax" info --json dx
	check "info: devdax, 2 MiB, the device" [ "$(jget '(d["backend"], d["size"], "device" in d)' <"$top/out")" = "('devdax', 2097152, True)" ]
	head -c 2097152 /dev/urandom >"$top/drnd"
	status "import on the device" 0 "$CTL" --pool "$dax" import "$top/drnd" dx
	status "export on the device" 0 "$CTL" --pool "$dax" export dx "$top/dx.out"
	check "the device holds the bytes imported" cmp -s "$top/drnd" "$top/dx.out"
	status "export of a range on the device" 0 "$CTL" --pool "$dax" export dx - --offset 0x1000 --length 100
	check "those bytes" cmp -s <(slice "$top/drnd" 4096 100) "$top/out"
	status "import past the break on the device" 1 "$CTL" --pool "$dax" import "$top/drnd" dx --offset 1
	status "export --archive on the device" 0 "$CTL" --pool "$dax" export --archive dx "$top/dx.ar"
	dxbase=$("$CTL" --pool "$dax" info --json dx | jget 'd["base"]')
	status "import the device's archive into a file pool" 0 "$CTL" --pool "$pool3" import --archive "$top/dx.ar" dxcopy
	check "the same bytes, at the same base" [ "$("$CTL" --pool "$pool3" export dxcopy - | md5sum | cut -d' ' -f1)$("$CTL" --pool "$pool3" info --json dxcopy | jget 'd["base"]')" = "$(sum "$top/drnd")$dxbase" ]
	status "destroy dx" 0 "$CTL" --pool "$dax" destroy dx
	status "import --archive onto the free device" 0 "$CTL" --pool "$dax" import --archive "$top/dx.ar"
	check "the device holds the bytes again" cmp -s "$top/drnd" <("$CTL" --pool "$dax" export dx -)
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
	mkdir -m 1777 "$top/nob"
	status "nobody may export p (0644)" 0 as_nobody "$CTL" export p "$top/nob/p.out"
	status "nobody may not import into p" 1 as_nobody "$CTL" import "$top/nob/p.out" p
	check "the failure names p and the reason" grep -q "import: p: .*ermission denied" "$top/err"
	status "create q (root's, 0600)" 0 "$CTL" create q --size 2M --mode 0600
	status "nobody may not export q" 1 as_nobody "$CTL" export q "$top/nob/q.out"
	check "the failure names q, and no file is made" sh -c "grep -q 'export: q: .*ermission denied' '$top/err' && [ ! -e '$top/nob/q.out' ]"
	status "nobody may not export --archive q" 1 as_nobody "$CTL" export --archive q "$top/nob/q.ar"
	status "root exports q" 0 "$CTL" export --archive q "$top/q.ar"
	check "q's archive is root's alone (0600)" [ "$(stat -c %a:%u "$top/q.ar")" = 600:0 ]
	status "destroy q" 0 "$CTL" destroy q
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
