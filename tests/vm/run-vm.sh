#!/usr/bin/env bash
# run-vm.sh -- run a host-built command inside a QEMU guest that has (emulated)
# persistent memory: devdax or fsdax on a memmap= region, or on an emulated
# ACPI NFIT NVDIMM whose contents live in a host file. See README.md.
#
#   run-vm.sh --cache DIR --mode devdax|fsdax|nfit [options] -- COMMAND [ARG...]
#
# Exit status: COMMAND's own exit status inside the guest (0-255); 124 if the
# guest had to be killed after --timeout; 125 for any failure of the harness
# itself (bad usage, QEMU failure, guest setup failure, no exit marker);
# 77 (automake's "skipped") if the host lacks tools and cannot install them.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly VM_DIR
readonly EXIT_SKIP=77 EXIT_TIMEOUT=124 EXIT_HARNESS=125

# Bump when the layout of the base initramfs changes in a way that the
# hashed inputs below do not capture.
readonly INITRAMFS_FORMAT=1

# Kernel modules the guest loads, by group; dependencies are added from the
# kernel's modules.dep, built-in ones (modules.builtin) and missing ones are
# skipped. The guest loads: 9p, then dax, then ext4 (fsdax only), then the
# bus driver (e820 or nfit) last, see guest-init.sh.
# crc32c_generic/crc32c-intel are not in ext4's modules.dep entry: jbd2 and
# ext4 ask the crypto API for "crc32c" at mount time, and with no modprobe
# in the guest that only works if an implementation is already loaded.
declare -A MODULE_GROUPS=(
	[9p]="virtio_pci 9pnet_virtio 9p"
	[dax]="libnvdimm nd_btt nd_pmem dax_pmem device_dax"
	[ext4]="crc32c_generic crc32c-intel ext4"
	[e820]="nd_e820"
	[nfit]="nfit"
)

usage() {
	cat <<'EOF'
Usage: run-vm.sh --cache DIR --mode devdax|fsdax|nfit [options] -- COMMAND [ARG...]

Boots a Linux guest under QEMU with persistent memory set up, runs COMMAND
inside it as root and exits with COMMAND's exit status.

Modes:
  devdax   memmap= pmem region as a devdax namespace; PHEAP_VM_DEV=/dev/dax0.0
  fsdax    memmap= pmem region, fsdax namespace, ext4 mounted -o dax at
           /mnt/pmem; PHEAP_VM_DEV=/mnt/pmem
  nfit     emulated ACPI NFIT NVDIMM backed by a host file (--nfit-image),
           which persists across runs; devdax or fsdax (--nfit-mode)

Options:
  --cache DIR         where the guest kernel and initramfs are cached
                      (default: $PHEAP_VM_CACHE, else ~/.cache/pheap-vm)
  --mode MODE         devdax, fsdax or nfit (required)
  --nfit-image FILE   NVDIMM backing file (default: DIR/nfit.img); created
                      sparse with --pmem-size if missing
  --nfit-mode M       devdax (default) or fsdax, for --mode nfit
  --keep-namespace    nfit: do not re-create the namespace (nor mkfs): use
                      what the previous boot left in the image
  --mount-opts OPTS   fsdax: ext4 mount options (default: dax), e.g.
                      dax,commit=600; without dax the file system is
                      mounted without DAX (the page cache)
  --power-cut REGEX   kill QEMU (SIGKILL: a power cut, nothing in the guest
                      gets to flush) as soon as a console line matches the
                      extended regular expression REGEX; exit 0 then
  --pmem-size SIZE    size of the pmem region/NVDIMM, e.g. 512M, 1G
                      (default 1G; a multiple of 128M)
  --dax-align A       alignment of a devdax namespace: 2M (default) or 1G
                      (1 GiB pages; the namespace loses its first GiB to
                      the info block and padding: use --pmem-size 4G or so)
  --timeout SECS      kill the guest after SECS seconds (default 300)
  --share DIR         host directory to mount read-write in the guest at the
                      same absolute path (repeatable; default: the current
                      directory). COMMAND runs in the current directory if
                      it is inside a share, else in the first share.
  --no-share          share no project directory
  --env NAME=VALUE    set an environment variable for COMMAND (repeatable)
  --smp N             guest CPUs (default 2)
  --kernel-pkg PKG    Debian kernel package to use (default: what
                      linux-image-amd64 depends on)
  --log FILE          also save the guest console output to FILE
  --prepare-only      only prepare the cache (kernel, initramfs), boot nothing
  --verbose           full kernel log and guest setup steps on the console
  -h, --help          this help

In the guest COMMAND sees: PHEAP_VM_MODE (devdax|fsdax|nfit), PHEAP_VM_KIND
(devdax|fsdax), PHEAP_VM_BUS (e820|nfit), PHEAP_VM_DEV (/dev/daxX.Y or
/mnt/pmem), PHEAP_VM_BLOCKDEV (fsdax: /dev/pmemX), PHEAP_VM_FRESH (1 if the
namespace was created by this boot, 0 with --keep-namespace).

Exit status: COMMAND's status; 124 timeout; 125 harness/setup failure;
77 missing host tools that cannot be installed (not root).
EOF
}

log() { printf 'run-vm: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit "$EXIT_HARNESS"
}
skip() {
	log "SKIP: $*"
	exit "$EXIT_SKIP"
}

# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
CACHE=${PHEAP_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pheap-vm}
MODE=
NFIT_IMAGE=
NFIT_MODE=devdax
KEEP_NS=0
PMEM_SIZE=1G
DAX_ALIGN=2M
MOUNT_OPTS=dax
CUT_RE=
TIMEOUT=300
SHARES=()
NO_SHARE=0
ENVS=()
SMP=2
KERNEL_PKG=
LOG_FILE=
PREPARE_ONLY=0
VERBOSE=0

need_arg() { [[ $# -ge 2 ]] || die "option $1 needs an argument (see --help)"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--cache) need_arg "$@"; CACHE=$2; shift 2 ;;
	--mode) need_arg "$@"; MODE=$2; shift 2 ;;
	--nfit-image) need_arg "$@"; NFIT_IMAGE=$2; shift 2 ;;
	--nfit-mode) need_arg "$@"; NFIT_MODE=$2; shift 2 ;;
	--keep-namespace) KEEP_NS=1; shift ;;
	--pmem-size) need_arg "$@"; PMEM_SIZE=$2; shift 2 ;;
	--dax-align) need_arg "$@"; DAX_ALIGN=$2; shift 2 ;;
	--mount-opts) need_arg "$@"; MOUNT_OPTS=$2; shift 2 ;;
	--power-cut) need_arg "$@"; CUT_RE=$2; shift 2 ;;
	--timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
	--share) need_arg "$@"; SHARES+=("$2"); shift 2 ;;
	--no-share) NO_SHARE=1; shift ;;
	--env) need_arg "$@"; ENVS+=("$2"); shift 2 ;;
	--smp) need_arg "$@"; SMP=$2; shift 2 ;;
	--kernel-pkg) need_arg "$@"; KERNEL_PKG=$2; shift 2 ;;
	--log) need_arg "$@"; LOG_FILE=$2; shift 2 ;;
	--prepare-only) PREPARE_ONLY=1; shift ;;
	--verbose) VERBOSE=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) die "unknown argument '$1' (COMMAND goes after --; see --help)" ;;
	esac
done
CMD=("$@")

[[ -n $CACHE ]] || die "--cache DIR is empty"
if [[ $PREPARE_ONLY == 0 ]]; then
	[[ ${#CMD[@]} -gt 0 ]] || die "no COMMAND given after --"
	case $MODE in
	devdax | fsdax | nfit) ;;
	"") die "--mode is required" ;;
	*) die "--mode must be devdax, fsdax or nfit, not '$MODE'" ;;
	esac
fi
case $NFIT_MODE in devdax | fsdax) ;; *) die "--nfit-mode must be devdax or fsdax" ;; esac
[[ $KEEP_NS == 0 || $MODE == nfit ]] ||
	die "--keep-namespace only makes sense with --mode nfit (memmap pmem is RAM: lost at power off)"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[[ $SMP =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive number"
[[ $MOUNT_OPTS =~ ^[A-Za-z0-9_=,.]+$ ]] || die "--mount-opts: letters, digits, _ = , . only, not '$MOUNT_OPTS'"
case $DAX_ALIGN in 2M | 1G) ;; *) die "--dax-align must be 2M or 1G, not '$DAX_ALIGN'" ;; esac
if [[ -n $CUT_RE ]]; then
	# status 2: REGEX is not a valid extended regular expression
	[[ x =~ $CUT_RE ]] || [[ $? == 1 ]] || die "--power-cut: bad regular expression '$CUT_RE'"
fi

# --pmem-size -> MiB. 128 MiB granularity: the kernel maps pmem into
# ZONE_DEVICE memory sections of 128 MiB, and devdax wants 2 MiB alignment.
if [[ $PMEM_SIZE =~ ^([0-9]+)([MmGg])$ ]]; then
	PMEM_MIB=${BASH_REMATCH[1]}
	[[ ${BASH_REMATCH[2]} == [Gg] ]] && PMEM_MIB=$((PMEM_MIB * 1024))
else
	die "--pmem-size must look like 512M or 1G, not '$PMEM_SIZE'"
fi
((PMEM_MIB >= 256 && PMEM_MIB % 128 == 0)) ||
	die "--pmem-size must be at least 256M and a multiple of 128M"

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# ---------------------------------------------------------------------------
# Host tools. With the host's /usr shared into the guest, the guest runs the
# host's own ndctl, mkfs.ext4 and shared libraries, so they must be installed
# here. Installs what is missing when run as root; otherwise skips (77).
# ---------------------------------------------------------------------------
busybox_is_static() {
	# A dynamically linked busybox would need its libraries before /usr is
	# mounted; only busybox-static works as the guest's early shell.
	[[ -x /usr/bin/busybox ]] && ! LC_ALL=C ldd /usr/bin/busybox >/dev/null 2>&1
}

ensure_host_tools() {
	local -A pkg_of=(
		[qemu-system-x86_64]=qemu-system-x86 [cpio]=cpio [depmod]=kmod
		[ndctl]=ndctl [daxctl]=daxctl [mkfs.ext4]=e2fsprogs [xz]=xz-utils
		[flock]=util-linux [timeout]=coreutils [dpkg-deb]=dpkg
		[apt-get]=apt [gzip]=gzip
	)
	local missing=() tool
	for tool in "${!pkg_of[@]}"; do
		# depmod and mkfs.ext4 live in /usr/sbin, which a user's PATH may lack.
		PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null || missing+=("${pkg_of[$tool]}")
	done
	busybox_is_static || missing+=(busybox-static)
	[[ ${#missing[@]} -eq 0 ]] && return 0
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		skip "missing host packages: ${missing[*]} (install them, or run as root once)"
	fi
	log "installing host packages: ${missing[*]}"
	# The package lists may be missing or stale on a fresh machine: update
	# only if the first attempt fails.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2; then
		apt-get update -q >&2 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
	fi
	busybox_is_static || die "/usr/bin/busybox is still not the static busybox"
}

# ---------------------------------------------------------------------------
# Guest kernel: Debian's linux-image package, downloaded (not installed) and
# unpacked into $CACHE/kernel/PKG_VERSION/:
#   bzImage      the package's vmlinuz
#   vmlinux      the uncompressed kernel, if it has a PVH ELF note (boots
#                ~4-5 s faster under TCG: no in-guest decompression)
#   kver         the kernel release (uname -r)
#   modules/     the package's lib/modules/KVER tree, with modules.dep
#   .done        stamp written last; a half-built dir is never used
# ---------------------------------------------------------------------------
apt_kernel_pkg() {
	# The package linux-image-amd64 currently points to.
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

apt_pkg_version() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }'
}

# The newest complete kernel already in the cache (for offline use).
newest_cached_kernel() {
	local d
	# shellcheck disable=SC2012 # names are ours: PKG_VERSION, no odd chars
	for d in $(ls -1 "$CACHE/kernel" 2>/dev/null | sort -V -r); do
		if [[ -z $KERNEL_PKG || $d == "${KERNEL_PKG}_"* ]] && [[ -f $CACHE/kernel/$d/.done ]]; then
			echo "$CACHE/kernel/$d"
			return 0
		fi
	done
	return 1
}

# uncompressed_vmlinux BZIMAGE OUT: write the ELF kernel inside BZIMAGE to OUT.
# The x86 boot protocol (2.08+) header says where the compressed payload is:
# setup_sects (byte at 0x1f1) tells how many 512-byte setup sectors precede
# the protected-mode code (plus the boot sector), and payload_offset (u32 at
# 0x248) / payload_length (u32 at 0x24c) locate the payload inside it.
uncompressed_vmlinux() {
	local bz=$1 out=$2 setup_sects payload_off payload_len start magic
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	payload_off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	payload_len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	((setup_sects == 0)) && setup_sects=4 # boot protocol: 0 means 4
	start=$(((setup_sects + 1) * 512 + payload_off))
	magic=$(tail -c +$((start + 1)) "$bz" | head -c 6 | od -An -tx1 | tr -d ' \n')
	# The payload is followed by 4 bytes of uncompressed size (kbuild's
	# size_append): --single-stream / the tools' own framing ignore them.
	case $magic in
	fd377a585a00*) tail -c +$((start + 1)) "$bz" | head -c "$payload_len" | xz -dc --single-stream >"$out" ;;
	1f8b*) tail -c +$((start + 1)) "$bz" | head -c "$payload_len" | { gzip -dc 2>/dev/null || true; } >"$out" ;;
	28b52ffd*) tail -c +$((start + 1)) "$bz" | head -c "$((payload_len - 4))" | zstd -qdc >"$out" ;;
	*) return 1 ;;
	esac
	# Must be an ELF file with a PVH entry note (Xen note type 18,
	# XEN_ELFNOTE_PHYS32_ENTRY), or QEMU cannot boot it directly.
	[[ $(head -c 4 "$out" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] || return 1
	command -v readelf >/dev/null || return 1
	LC_ALL=C readelf -n "$out" 2>/dev/null | grep -q 'Unknown note type: (0x00000012)\|PHYS32_ENTRY' || return 1
}

# A cheap fingerprint of apt's package lists: asking apt-cache costs ~1.7 s
# per run, so its answer is cached until the lists change (apt-get update).
apt_lists_fingerprint() {
	find /var/lib/apt/lists -maxdepth 1 -type f -name '*_Packages*' \
		-printf '%f %s %T@\n' 2>/dev/null | sort | sha256sum | cut -c1-16
}

# resolve_kernel_pkg: set PKG and VERSION (the package to use), empty if
# apt knows no such package.
resolve_kernel_pkg() {
	local memo=$CACHE/kernel/apt-answer fp want=${KERNEL_PKG:-default} a b c d
	fp=$(apt_lists_fingerprint)
	if [[ -f $memo ]] && read -r a b c d <"$memo" && [[ $a == "$fp" && $b == "$want" ]]; then
		PKG=$c VERSION=$d
		return 0
	fi
	PKG=$KERNEL_PKG
	[[ -n $PKG ]] || PKG=$(apt_kernel_pkg)
	VERSION=
	[[ -n $PKG ]] && VERSION=$(apt_pkg_version "$PKG")
	if [[ -n $VERSION ]]; then
		mkdir -p "$CACHE/kernel"
		echo "$fp $want $PKG $VERSION" >"$memo"
	fi
}

prepare_kernel() {
	local pkg version dir tmp kver deb moddir
	resolve_kernel_pkg
	if [[ -z $VERSION ]] && [[ $(id -u) == 0 ]] && ! newest_cached_kernel >/dev/null; then
		# Fresh machine: no package lists yet.
		log "apt-get update (no package lists yet)"
		apt-get update -q >&2 || true
		resolve_kernel_pkg
	fi
	pkg=$PKG version=$VERSION
	if [[ -z $version ]]; then
		KDIR=$(newest_cached_kernel) ||
			skip "cannot find a Debian kernel package (apt-get update?) and none is cached in $CACHE/kernel"
		log "apt knows no kernel package; using cached $(basename "$KDIR")"
		return 0
	fi
	dir=$CACHE/kernel/${pkg}_$version
	if [[ -f $dir/.done ]]; then
		KDIR=$dir
		return 0
	fi

	log "preparing guest kernel $pkg $version in $dir"
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/deb"
	# apt-get download as root complains that the _apt sandbox user cannot
	# write here; the download itself works either way.
	if ! (cd "$tmp/deb" && apt-get download -q -o APT::Sandbox::User="$(id -un)" \
		"$pkg=$version" >&2); then
		rm -rf "$tmp"
		if KDIR=$(newest_cached_kernel); then
			log "download of $pkg failed; using cached $(basename "$KDIR")"
			return 0
		fi
		die "apt-get download $pkg=$version failed"
	fi
	deb=$(ls "$tmp"/deb/*.deb)
	dpkg-deb -x "$deb" "$tmp/root"
	# Debian 12 ships lib/modules; merged-/usr packages may ship usr/lib/modules.
	if [[ -d $tmp/root/lib/modules ]]; then
		moddir=$tmp/root/lib/modules
	elif [[ -d $tmp/root/usr/lib/modules ]]; then
		moddir=$tmp/root/usr/lib/modules
		ln -s usr/lib "$tmp/root/lib"
	else
		die "$pkg has no lib/modules"
	fi
	kver=$(ls "$moddir")
	[[ $(wc -w <<<"$kver") == 1 ]] || die "$pkg: expected one kernel release in lib/modules, got: $kver"
	# The package does not ship modules.dep (postinst runs depmod): make it.
	PATH=$PATH:/usr/sbin:/sbin depmod -b "$tmp/root" "$kver"
	mv "$moddir/$kver" "$tmp/modules"
	mv "$tmp/root/boot/vmlinuz-$kver" "$tmp/bzImage"
	cp "$tmp/root/boot/config-$kver" "$tmp/config" 2>/dev/null || true
	echo "$kver" >"$tmp/kver"
	if uncompressed_vmlinux "$tmp/bzImage" "$tmp/vmlinux"; then
		log "extracted uncompressed vmlinux (PVH boot)"
	else
		log "no usable uncompressed vmlinux; will boot the bzImage (slower)"
		rm -f "$tmp/vmlinux"
	fi
	rm -rf "$tmp/root" "$tmp/deb"
	touch "$tmp/.done"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	KDIR=$dir
	prune_cache
}

# Drop kernels and initramfs images that no run has used for a week (each
# run touches what it uses), so the cache does not grow without bound as
# Debian publishes new kernels. Runs only when something new was built.
prune_cache() {
	local d
	for d in "$CACHE"/kernel/*/.done; do
		[[ -f $d && $(dirname "$d") != "$KDIR" ]] || continue
		if [[ -n $(find "$d" -mtime +7) ]]; then
			log "pruning unused $(dirname "$d")"
			rm -rf "$(dirname "$d")"
		fi
	done
	find "$CACHE/initramfs" -maxdepth 1 -name 'base-*.cpio' -mtime +7 -delete 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Base initramfs: static busybox in /bb, guest-init.sh as /init, and the
# kernel modules of MODULE_GROUPS (decompressed, with a load-order list per
# group). Cached as $CACHE/initramfs/base-HASH.cpio, HASH covering the kernel,
# busybox, guest-init.sh, the module groups and this builder's format. It is
# left uncompressed: QEMU loads it fast and the TCG guest need not unpack it.
# ---------------------------------------------------------------------------
declare -A MOD_PATH MOD_DEPS BUILTIN SEEN
ORDER=()

load_module_db() {
	local line path deps name
	while IFS= read -r line; do
		path=${line%%:*}
		deps=${line#*:}
		name=${path##*/}
		name=${name%%.ko*}
		MOD_PATH[${name//-/_}]=$path
		MOD_DEPS[$path]=$deps
	done <"$KDIR/modules/modules.dep"
	while IFS= read -r path; do
		name=${path##*/}
		name=${name%%.ko*}
		BUILTIN[${name//-/_}]=1
	done <"$KDIR/modules/modules.builtin"
}

# add_module PATH: append PATH and (first) its dependencies to ORDER, once.
add_module() {
	local path=$1 dep
	[[ -n ${SEEN[$path]:-} ]] && return 0
	SEEN[$path]=1
	for dep in ${MOD_DEPS[$path]}; do
		add_module "$dep"
	done
	ORDER+=("$path")
}

# copy_module PATH DESTDIR: copy a module, decompressed, as NAME.ko.
copy_module() {
	local src=$KDIR/modules/$1 base
	base=${1##*/}
	base=${base%%.ko*}.ko
	case $src in
	*.ko) cp "$src" "$2/$base" ;;
	*.ko.xz) xz -dc "$src" >"$2/$base" ;;
	*.ko.zst) zstd -qdc "$src" >"$2/$base" ;;
	*.ko.gz) gzip -dc "$src" >"$2/$base" ;;
	*) die "unknown module format: $src" ;;
	esac
	echo "$base"
}

prepare_initramfs() {
	local key out stage group name path applet
	key=$({
		echo "format $INITRAMFS_FORMAT"
		echo "kernel $KDIR"
		sha256sum /usr/bin/busybox "$VM_DIR/guest-init.sh" | cut -d' ' -f1
		for group in $(printf '%s\n' "${!MODULE_GROUPS[@]}" | sort); do
			echo "group $group: ${MODULE_GROUPS[$group]}"
		done
	} | sha256sum | cut -c1-16)
	out=$CACHE/initramfs/base-$key.cpio
	BASE_INITRD=$out
	if [[ -f $out ]]; then
		touch "$out" "$KDIR/.done" # "recently used", see prune_cache
		return 0
	fi

	log "building base initramfs $out"
	mkdir -p "$CACHE/initramfs"
	rm -rf "$CACHE"/initramfs/stage.* # left by an interrupted build
	stage=$(mktemp -d "$CACHE/initramfs/stage.XXXXXX")
	mkdir -p "$stage"/{bb,modules,dev,proc,sys,tmp,run,root,mnt,etc}
	cp /usr/bin/busybox "$stage/bb/busybox"
	for applet in $(/usr/bin/busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$stage/bb/$applet"
	done
	cp "$VM_DIR/guest-init.sh" "$stage/init"
	chmod 755 "$stage/init"

	load_module_db
	for group in "${!MODULE_GROUPS[@]}"; do
		SEEN=()
		ORDER=()
		for name in ${MODULE_GROUPS[$group]}; do
			path=${MOD_PATH[${name//-/_}]:-}
			if [[ -n $path ]]; then
				add_module "$path"
			elif [[ -z ${BUILTIN[${name//-/_}]:-} ]]; then
				log "note: module $name is neither in modules.dep nor built in; skipped"
			fi
		done
		: >"$stage/modules/$group.list"
		for path in "${ORDER[@]}"; do
			copy_module "$path" "$stage/modules" >>"$stage/modules/$group.list"
		done
	done

	# newc format, owned by root, sorted for a reproducible archive.
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$stage"
	prune_cache
}

# ---------------------------------------------------------------------------
# Preparation is shared by concurrent runs (make -j): serialise it.
# ---------------------------------------------------------------------------
ensure_host_tools
exec 9>"$CACHE/.lock"
flock 9
prepare_kernel
prepare_initramfs
flock -u 9
exec 9>&-

if [[ -f $KDIR/vmlinux ]]; then
	KERNEL_IMAGE=$KDIR/vmlinux
else
	KERNEL_IMAGE=$KDIR/bzImage
fi
if [[ $PREPARE_ONLY == 1 ]]; then
	log "cache ready: kernel $KERNEL_IMAGE, initramfs $BASE_INITRD"
	exit 0
fi

# ---------------------------------------------------------------------------
# Per-run part of the initrd: a small uncompressed cpio with /pheap/* (the
# settings guest-init.sh sources), /etc files taken from the host at run
# time, and the host's top-level symlinks (/bin -> usr/bin ...). The kernel
# unpacks concatenated archives in order, so this goes after the base.
# ---------------------------------------------------------------------------
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pheap-vm.XXXXXX")
TIMEOUT_PID=
# shellcheck disable=SC2317 # invoked by the traps
cleanup() {
	# Never leave a QEMU behind: `timeout` passes the TERM on to it.
	if [[ -n $TIMEOUT_PID ]]; then kill "$TIMEOUT_PID" 2>/dev/null || true; fi
	rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# shq ARG: ARG quoted for any POSIX sh (the guest's busybox sh and dash).
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

STAGE=$RUN_DIR/stage
mkdir -p "$STAGE/pheap" "$STAGE/etc"

# Which pmem to set up.
case $MODE in
devdax | fsdax) KIND=$MODE BUS=e820 ;;
nfit) KIND=$NFIT_MODE BUS=nfit ;;
esac
NS_SETUP=create
[[ $KEEP_NS == 1 ]] && NS_SETUP=keep

# Host directories shared over 9p: "TAG PATH ro|rw" lines, QEMU options.
QEMU_9P=()
: >"$STAGE/pheap/shares"
add_share() { # TAG HOSTPATH ro|rw
	local tag=$1 path=$2 rw=$3 ro_opt=
	[[ $path != *[[:space:]]* ]] || die "cannot share a path with whitespace: '$path'"
	[[ $rw == ro ]] && ro_opt=,readonly=on
	echo "$tag $path $rw" >>"$STAGE/pheap/shares"
	# security_model=none: files are accessed with QEMU's own rights
	# (no xattr mapping); multidevs=remap keeps inode numbers unique when
	# the directory spans several host file systems. Commas in a QEMU
	# option value are escaped by doubling them.
	QEMU_9P+=(-fsdev "local,id=fs_$tag,path=${path//,/,,},security_model=none,multidevs=remap$ro_opt"
		-device "virtio-9p-pci,fsdev=fs_$tag,mount_tag=$tag")
}
# The host's system directories, read-only: the guest then runs the host's
# dynamic loader, libraries and tools at their usual paths. On a merged-/usr
# system (Debian 12) /bin, /lib... are symlinks into /usr and are recreated
# as such; real directories are shared as well.
add_share sys_usr /usr ro
for d in bin sbin lib lib32 lib64 libx32; do
	if [[ -L /$d ]]; then
		ln -s "$(readlink "/$d")" "$STAGE/$d"
	elif [[ -d /$d ]]; then
		add_share "sys_$d" "/$d" ro
	fi
done
# The loader's cache and a few config files the guest tools read.
for f in ld.so.cache ld.so.conf mke2fs.conf; do
	[[ -f /etc/$f ]] && cp "/etc/$f" "$STAGE/etc/$f"
done
if [[ -d /etc/ld.so.conf.d ]]; then cp -r /etc/ld.so.conf.d "$STAGE/etc/"; fi
echo "root:x:0:0:root:/root:/bin/sh" >"$STAGE/etc/passwd"
echo "root:x:0:" >"$STAGE/etc/group"
printf '127.0.0.1 localhost pheap-vm\n::1 localhost ip6-localhost\n' >"$STAGE/etc/hosts"

# Project shares (read-write, same path as on the host).
if [[ $NO_SHARE == 0 && ${#SHARES[@]} -eq 0 ]]; then
	SHARES=("$PWD")
fi
# Shares are mounted at their absolute path as the user spelled it (not
# symlink-resolved): that is the path libtool wrappers and Makefiles record.
CWD=/
i=0
for s in "${SHARES[@]}"; do
	[[ -d $s ]] || die "--share $s: no such directory"
	s=$(cd "$s" && pwd)
	case $s in
	/ | /dev | /dev/* | /proc | /proc/* | /sys | /sys/* | /run | /run/* | /usr)
		die "--share $s: refusing to mount over a guest system directory" ;;
	esac
	add_share "proj$i" "$s" rw
	[[ $i == 0 ]] && CWD=$s
	case $PWD/ in "$s"/*) CWD=$PWD ;; esac
	i=$((i + 1))
done

# Console log level while COMMAND runs: 5 = kernel warnings and worse.
LOGLEVEL=5
NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
cat >"$STAGE/pheap/config" <<EOF
PHEAP_VM_MODE=$MODE
VM_KIND=$KIND
VM_BUS=$BUS
VM_NS=$NS_SETUP
VM_VERBOSE=$VERBOSE
VM_LOGLEVEL=$LOGLEVEL
VM_CWD=$(shq "$CWD")
VM_NONCE=$NONCE
VM_MOUNT_OPTS=$MOUNT_OPTS
VM_DAX_ALIGN=$DAX_ALIGN
EOF

: >"$STAGE/pheap/env"
for e in "${ENVS[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, not '$e'"
	echo "export ${e%%=*}=$(shq "${e#*=}")" >>"$STAGE/pheap/env"
done

{
	printf 'exec'
	for a in "${CMD[@]}"; do printf ' %s' "$(shq "$a")"; done
	printf '\n'
} >"$STAGE/pheap/cmd"

(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$RUN_DIR/run.cpio"
cat "$BASE_INITRD" "$RUN_DIR/run.cpio" >"$RUN_DIR/initrd"

# ---------------------------------------------------------------------------
# QEMU command line
# ---------------------------------------------------------------------------
# quiet: only kernel errors on the console while booting (the console is
# also COMMAND's output; guest-init.sh lets warnings through while COMMAND
# runs); mitigations=off: no speculation workarounds, they
# only cost time under TCG; panic=-1 with -no-reboot: a kernel panic ends
# QEMU at once instead of hanging until --timeout.
APPEND="console=ttyS0,115200 panic=-1 mitigations=off"
if [[ $VERBOSE == 1 ]]; then APPEND+=" loglevel=7"; else APPEND+=" quiet"; fi

# shellcheck disable=SC2054 # the commas are inside QEMU option values
QEMU=(qemu-system-x86_64
	-nodefaults -nographic -no-reboot
	-accel tcg -cpu max -smp "$SMP"
	-kernel "$KERNEL_IMAGE" -initrd "$RUN_DIR/initrd"
	-serial stdio
	# SeaBIOS would otherwise print its banner (with screen-clearing
	# escape sequences) on the serial console.
	-fw_cfg name=etc/sercon-port,string=0
	"${QEMU_9P[@]}")

case $BUS in
e820)
	# Legacy pmem: memmap=SIZE!4G turns guest RAM at 4 GiB into an e820
	# type-12 (persistent memory) range that nd_e820 exposes as region0.
	# The "pc" machine puts 3 GiB of RAM below 4 GiB and the rest above, so
	# -m 4G+SIZE leaves SIZE of pmem plus 1 GiB of normal RAM above 4 GiB.
	# (Taking the range below 4 GiB, e.g. -m 3G memmap=1G!2G, fails.)
	QEMU+=(-machine pc -m "$((4096 + PMEM_MIB))M")
	APPEND+=" memmap=${PMEM_MIB}M!4G"
	;;
nfit)
	[[ -n $NFIT_IMAGE ]] || NFIT_IMAGE=$CACHE/nfit.img
	if [[ ! -e $NFIT_IMAGE ]]; then
		[[ $KEEP_NS == 0 ]] || die "--keep-namespace: $NFIT_IMAGE does not exist yet (nothing to keep)"
		truncate -s "${PMEM_MIB}M" "$NFIT_IMAGE"
	fi
	size=$(stat -c %s "$NFIT_IMAGE")
	[[ $size == $((PMEM_MIB * 1024 * 1024)) ]] ||
		die "$NFIT_IMAGE is $size bytes, not --pmem-size ${PMEM_MIB}M"
	# Two guests writing one NVDIMM image would corrupt it.
	exec 8<"$NFIT_IMAGE"
	flock -n 8 || die "$NFIT_IMAGE is in use by another run"
	# share=on: guest stores go straight into the host file (MAP_SHARED),
	# so the namespace and its data are there for the next boot.
	# shellcheck disable=SC2054 # commas inside QEMU option values
	QEMU+=(-machine pc,nvdimm=on -m "2G,slots=2,maxmem=$((2048 + PMEM_MIB))M"
		-object "memory-backend-file,id=mem1,share=on,mem-path=${NFIT_IMAGE//,/,,},size=${PMEM_MIB}M"
		-device nvdimm,id=nv1,memdev=mem1)
	;;
esac
QEMU+=(-append "$APPEND")

# ---------------------------------------------------------------------------
# Boot, stream the console, collect the exit marker
# ---------------------------------------------------------------------------
CONSOLE_LOG=$RUN_DIR/console.log
align=
[[ $KIND == devdax ]] && align=" align=$DAX_ALIGN"
log "booting: mode=$MODE kind=$KIND bus=$BUS namespace=$NS_SETUP pmem=${PMEM_MIB}M$align timeout=${TIMEOUT}s"
start=$(date +%s.%N)
# The console is streamed through a FIFO: a reader drops the serial line's
# \r (and the expected fw_cfg "opt/" warning, see above) and tees it to our
# stdout and to the log parsed below. QEMU runs in the background under
# `timeout` so that an interrupted run-vm.sh can stop it (cleanup above):
# timeout puts itself and QEMU in a process group of their own, kills that
# group after --timeout (TERM, then KILL 10 s later) and passes on a TERM it
# receives. stdin is /dev/null: QEMU must neither steal the caller's stdin
# nor switch a terminal to raw mode.
#
# --power-cut: the last stage of the reader also watches for REGEX and then
# SIGKILLs timeout's process group (timeout and QEMU): QEMU gets no chance
# to do anything more, the guest's page cache and uncommitted journal are
# gone, and what the guest stored into an NVDIMM is in its image file.
console_sink() {
	if [[ -z $CUT_RE ]]; then
		tee "$CONSOLE_LOG"
		return 0
	fi
	local line pid
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ ! -e $RUN_DIR/cut && $line =~ $CUT_RE ]]; then
			read -r pid <"$RUN_DIR/qemu.pid" || pid=
			if [[ -n $pid ]] && { kill -KILL -- "-$pid" || kill -KILL "$pid"; } 2>/dev/null; then
				date +%s.%N >"$RUN_DIR/cut"
			fi
		fi
		printf '%s\n' "$line" >>"$CONSOLE_LOG"
		printf '%s\n' "$line"
	done
}
mkfifo "$RUN_DIR/console.fifo"
grep -av --line-buffered 'fw_cfg item names should be prefixed with "opt/"' \
	<"$RUN_DIR/console.fifo" | sed -u 's/\r$//' | console_sink &
READER_PID=$!
timeout --kill-after=10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$RUN_DIR/console.fifo" 2>&1 &
TIMEOUT_PID=$!
echo "$TIMEOUT_PID" >"$RUN_DIR/qemu.pid"
qemu_rc=0
# (stderr: bash would report a --power-cut's SIGKILL as "Killed")
wait "$TIMEOUT_PID" 2>/dev/null || qemu_rc=$?
TIMEOUT_PID=
wait "$READER_PID" || true
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
[[ -n $LOG_FILE ]] && cp "$CONSOLE_LOG" "$LOG_FILE"

# The marker line is "PHEAP-VM-EXIT=<code> <nonce of this run>".
marker=$(grep -a "^PHEAP-VM-EXIT=[0-9]\+ $NONCE\$" "$CONSOLE_LOG" | tail -n 1 || true)
marker=${marker%% *}
if [[ -n $CUT_RE ]]; then
	if [[ -f $RUN_DIR/cut ]]; then
		log "power cut: QEMU killed when the console showed /$CUT_RE/ (mode=$MODE, $(awk -v s="$start" -v e="$(cat "$RUN_DIR/cut")" 'BEGIN { printf "%.1f", e - s }') s after boot)"
		exit 0
	fi
	log "--power-cut: the console never showed /$CUT_RE/"
	if [[ -n $marker && ${marker#PHEAP-VM-EXIT=} != 0 ]]; then
		exit "${marker#PHEAP-VM-EXIT=}"
	fi
	[[ $qemu_rc == 124 || $qemu_rc == 137 ]] && exit "$EXIT_TIMEOUT"
	exit "$EXIT_HARNESS"
fi
if [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
	if [[ -n $marker ]]; then
		log "warning: the guest did not power off within ${TIMEOUT}s after COMMAND ended"
	else
		log "TIMEOUT: no result after ${TIMEOUT}s; the guest was killed (mode=$MODE)"
		exit "$EXIT_TIMEOUT"
	fi
fi
if [[ -z $marker ]]; then
	err=$(grep -a 'PHEAP-VM-ERROR:' "$CONSOLE_LOG" | tail -n 1 || true)
	if [[ -n $err ]]; then
		log "guest setup failed: ${err#*PHEAP-VM-ERROR: }"
	elif [[ $qemu_rc != 0 ]]; then
		log "QEMU failed (exit status $qemu_rc) before COMMAND finished"
	else
		log "the guest stopped without reporting COMMAND's exit status (kernel panic? see the console output above)"
	fi
	exit "$EXIT_HARNESS"
fi
rc=${marker#PHEAP-VM-EXIT=}
log "mode=$MODE exit=$rc time=${elapsed}s"
exit "$rc"
