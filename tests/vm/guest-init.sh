#!/bb/sh
# guest-init.sh -- PID 1 of the libpheap-pmem test VM (see README.md).
#
# This file is copied to /init of the base initramfs by run-vm.sh and runs
# under the static busybox shell in /bb (busybox lives outside /usr because
# the host's /usr is mounted over /usr later).
#
# What it does, in order:
#   1. mount /dev, /proc, /sys and attach stdio to the console;
#   2. read the per-run settings that run-vm.sh put into /pheap/ (a small
#      uncompressed cpio archive appended to the initrd on every run);
#   3. insmod the kernel modules it needs (lists made by run-vm.sh, in
#      dependency order, under /modules/);
#   4. mount the host's /usr (and any other host system dirs) read-only over
#      9p, so the host's own ndctl, mkfs.ext4, dynamic loader and shared
#      libraries -- the exact ones the test binaries were linked against --
#      are available at their usual paths;
#   5. set up the persistent memory: devdax (/dev/daxX.Y) or fsdax (ext4
#      mounted with -o dax at /mnt/pmem), on a memmap= (e820) region or on an
#      emulated ACPI NFIT NVDIMM;
#   6. mount the host's shared project directories read-write at the same
#      absolute paths as on the host (libtool wrapper scripts hard-code them);
#   7. run the command, print "PHEAP-VM-EXIT=<code>" and power off.
#
# Any setup failure prints "PHEAP-VM-ERROR: <why>" plus the setup log and
# powers off WITHOUT an exit marker; run-vm.sh then exits 125.

# shellcheck disable=SC2123 # yes, the search path: busybox applets only
PATH=/bb
export PATH

# devtmpfs first: the initramfs has no /dev/console node (run-vm.sh builds
# the archive without root rights, so it cannot contain device nodes).
/bb/mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /tmp /run /root /mnt/pmem /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
# What a normal system has and tests may rely on: POSIX shared memory and
# semaphores (/dev/shm), ptys, /dev/fd (bash process substitution), and a
# working loopback interface.
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ip link set lo up 2>/dev/null
hostname pheap-vm

SETUP_LOG=/run/setup.log
: >"$SETUP_LOG"

# Everything the host told us: PHEAP_VM_MODE, VM_KIND, VM_BUS, VM_NS,
# VM_VERBOSE, VM_CWD, VM_LOGLEVEL, VM_NONCE, VM_MOUNT_OPTS, VM_DAX_ALIGN
# (written by run-vm.sh).
# shellcheck disable=SC1091 # generated per run
. /pheap/config

log() {
	# Setup chatter goes to the log; with --verbose also to the console.
	echo "pheap-vm: $*" >>"$SETUP_LOG"
	[ "$VM_VERBOSE" = 1 ] && echo "pheap-vm: $*"
	return 0
}

# run CMD...: run a setup command, keep its output in the setup log (and
# show it too with --verbose, keeping the command's own exit status: busybox
# sh has no PIPESTATUS, so it goes through a file).
run() {
	log "+ $*"
	if [ "$VM_VERBOSE" = 1 ]; then
		{
			"$@"
			echo $? >/run/rc
		} 2>&1 | tee -a "$SETUP_LOG"
		return "$(cat /run/rc)"
	fi
	"$@" >>"$SETUP_LOG" 2>&1
}

power_off() {
	sync
	# poweroff -f calls reboot(POWER_OFF) directly (no init system here).
	# If that ever fails, PID 1 exiting makes the kernel panic; with
	# panic=-1 it "reboots" and QEMU -no-reboot exits anyway.
	poweroff -f
	sleep 5
	exit 1
}

fail() {
	echo
	echo "PHEAP-VM-ERROR: $*"
	echo "----- guest setup log -----"
	cat "$SETUP_LOG"
	echo "----- last kernel messages -----"
	dmesg | tail -n 30
	echo "---------------------------"
	power_off
}

# wait_until CMD...: poll (up to ~15 s) until CMD succeeds. Device probing
# on the nvdimm bus is asynchronous, so a node can appear a little after
# insmod/ndctl have returned.
wait_until() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 150 ] && return 1
		usleep 100000
	done
	return 0
}

# ---- 3. kernel modules -----------------------------------------------
LOADED=" "
load_group() {
	# /modules/GROUP.list holds file names in load order (dependencies
	# first); a module shared by two groups is loaded only once.
	[ -f "/modules/$1.list" ] || fail "no module list for group $1"
	while read -r ko; do
		[ -n "$ko" ] || continue
		case "$LOADED" in *" $ko "*) continue ;; esac
		LOADED="$LOADED$ko "
		# A failing module is not fatal here (e.g. crc32c-intel on a CPU
		# without SSE4.2): whatever really needed it fails loudly later.
		run insmod "/modules/$ko" || log "warning: insmod $ko failed"
	done <"/modules/$1.list"
}

# Setup noise (e.g. nd_pmem's "unable to guarantee persistence of writes"
# for memmap pmem) stays off the console unless --verbose: errors only.
[ "$VM_VERBOSE" = 1 ] || dmesg -n 4

load_group 9p

# ---- 4. host system directories over 9p --------------------------------
# /pheap/shares: "TAG GUEST-PATH ro|rw" per line. System dirs (usr, ...) are
# read-only; project shares are read-write.
mount_share() {
	tag=$1 path=$2 rw=$3
	mkdir -p "$path" 2>/dev/null
	# cache=loose for read-only system dirs (fast; nothing changes under
	# us), cache=mmap for writable shares (writes go straight to the host,
	# shared writable mmap still works).
	if [ "$rw" = ro ]; then
		opts=ro,cache=loose
	else
		opts=rw,cache=mmap
	fi
	run mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$opts" \
		"$tag" "$path" || fail "cannot mount 9p share $tag at $path"
}
while read -r tag path rw; do
	[ "$rw" = ro ] && mount_share "$tag" "$path" "$rw"
done </pheap/shares
# The host's tools now come after busybox in PATH (ndctl, mkfs.ext4).
PATH=/bb:/usr/sbin:/usr/bin
[ -x /usr/bin/ndctl ] || fail "host /usr has no ndctl (apt-get install ndctl)"

# ---- 5. persistent memory ---------------------------------------------
load_group dax
[ "$VM_KIND" = fsdax ] && load_group ext4
# The bus driver goes last so that nd_pmem/dax_pmem are already registered
# when the region and its namespace are enumerated (needed for a kept NFIT
# namespace: its info block is recognised at probe time).
load_group "$VM_BUS"

wait_until test -e /sys/bus/nd/devices/namespace0.0 ||
	fail "namespace0.0 did not appear ($VM_BUS bus)"

# Print the device node that the namespace currently exposes (fails if none).
dax_node() {
	for d in /dev/dax*; do [ -c "$d" ] && echo "$d" && return 0; done
	return 1
}
pmem_node() {
	for d in /dev/pmem*; do [ -b "$d" ] && echo "$d" && return 0; done
	return 1
}
# shellcheck disable=SC2317 # called through wait_until
any_node() { dax_node || pmem_node; }

if [ "$VM_NS" = create ]; then
	# -f: reconfigure even if the namespace is active or holds data.
	if [ "$VM_KIND" = devdax ]; then
		# 2M, or 1G (--dax-align): the kernel then maps the device
		# only in 1 GiB units, with 1 GiB pages
		run ndctl create-namespace -f -e namespace0.0 -m devdax \
			-a "${VM_DAX_ALIGN:-2M}" ||
			fail "ndctl create-namespace -m devdax -a ${VM_DAX_ALIGN:-2M} failed"
	else
		run ndctl create-namespace -f -e namespace0.0 -m fsdax ||
			fail "ndctl create-namespace -m fsdax failed"
	fi
fi

if [ "$VM_NS" = keep ]; then
	# The kept namespace shows up as whatever the previous boot made it:
	# wait for either kind of node, then check it is the one asked for.
	wait_until any_node ||
		fail "--keep-namespace: namespace0.0 has no dax or pmem device (never set up?)"
	if [ "$VM_KIND" = devdax ] && ! dax_node >/dev/null; then
		fail "--keep-namespace: the kept namespace is in fsdax mode, not devdax"
	elif [ "$VM_KIND" = fsdax ] && ! pmem_node >/dev/null; then
		fail "--keep-namespace: the kept namespace is in devdax mode, not fsdax"
	fi
fi

if [ "$VM_KIND" = devdax ]; then
	wait_until dax_node || fail "no /dev/dax* device (namespace not in devdax mode?)"
	PHEAP_VM_DEV=$(dax_node)
else
	wait_until pmem_node || fail "no /dev/pmem* device (namespace not in fsdax mode?)"
	PHEAP_VM_BLOCKDEV=$(pmem_node)
	export PHEAP_VM_BLOCKDEV
	if [ "$VM_NS" = create ]; then
		# nodiscard: discarding pmem is pointless and slow under TCG.
		run /usr/sbin/mkfs.ext4 -q -F -E nodiscard "$PHEAP_VM_BLOCKDEV" ||
			fail "mkfs.ext4 $PHEAP_VM_BLOCKDEV failed"
	fi
	# VM_MOUNT_OPTS: "dax" unless run-vm.sh --mount-opts said otherwise
	run mount -t ext4 -o "$VM_MOUNT_OPTS" "$PHEAP_VM_BLOCKDEV" /mnt/pmem ||
		fail "mount -o $VM_MOUNT_OPTS $PHEAP_VM_BLOCKDEV failed"
	# A mount that silently fell back to the page cache would make every
	# test meaningless: insist that the mount options say dax (unless
	# the page cache was asked for: --mount-opts without dax).
	case ",$VM_MOUNT_OPTS," in
	*,dax,* | *,dax=always,*)
		grep -q " /mnt/pmem ext4 .*dax" /proc/mounts ||
			fail "/mnt/pmem is not mounted with dax: $(grep /mnt/pmem /proc/mounts)"
		;;
	esac
	PHEAP_VM_DEV=/mnt/pmem
fi
export PHEAP_VM_DEV PHEAP_VM_MODE
PHEAP_VM_KIND=$VM_KIND
PHEAP_VM_BUS=$VM_BUS
PHEAP_VM_FRESH=0
[ "$VM_NS" = create ] && PHEAP_VM_FRESH=1
export PHEAP_VM_KIND PHEAP_VM_BUS PHEAP_VM_FRESH
log "pmem ready: mode=$PHEAP_VM_MODE kind=$VM_KIND bus=$VM_BUS dev=$PHEAP_VM_DEV"

# ---- 6. project shares (read-write, same path as on the host) -----------
while read -r tag path rw; do
	[ "$rw" = rw ] && mount_share "$tag" "$path" "$rw"
done </pheap/shares

# ---- 7. run the command ------------------------------------------------
# From here on the host's programs are used: /bin/sh is the host's shell.
# The kernel's usermode helper would otherwise try the host's modprobe,
# which knows nothing about the guest kernel.
echo /bb/true >/proc/sys/kernel/modprobe 2>/dev/null
cd "$VM_CWD" || fail "cannot cd to $VM_CWD"
export HOME=/root TERM=dumb LANG=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ "$VM_VERBOSE" = 1 ] && env | grep '^PHEAP_VM_'
# While the command runs, kernel warnings (WARN_ON splats, DAX complaints)
# and worse do reach the console: they matter for a pmem library's tests.
[ "$VM_VERBOSE" = 1 ] || dmesg -n "$VM_LOGLEVEL"
# /pheap/env holds the --env settings; /pheap/cmd execs the command with
# its arguments quoted exactly as given to run-vm.sh. stdin is /dev/null so
# that nothing ever waits on the console.
(
	# shellcheck disable=SC1091 # generated per run
	. /pheap/env
	exec /bin/sh /pheap/cmd
) </dev/null
rc=$?

# ---- shut down cleanly --------------------------------------------------
[ "$VM_VERBOSE" = 1 ] || dmesg -n 1
cd /
sync
if [ "$VM_KIND" = fsdax ]; then
	# Unmount so the ext4 metadata is on the (emulated) media: matters for
	# the NFIT image, which the next boot may reuse.
	umount /mnt/pmem || echo "pheap-vm: warning: umount /mnt/pmem failed"
fi
# A blank line first so the marker starts at the beginning of a line even
# if the command's output did not end with a newline. The per-run nonce
# tells the real marker from one the command itself might have printed.
echo
echo "PHEAP-VM-EXIT=$rc $VM_NONCE"
power_off
