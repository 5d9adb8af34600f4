#!/usr/bin/env bash
# boot-test.sh (make boot-test): boots gostree deployments under qemu with
# software emulation (TCG) and a Debian ≥ 6.12 kernel fetched with
# `apt-get download` (never installed), as boot.md describes:
#
#   host:  build gostree (static) and the prepare-root helper, an initramfs
#          (gostree initramfs build), two commits of a busybox OS carrying
#          the kernel and that initramfs, `gostree admin deploy` of the
#          first into a sysroot, and an ext4 image of it made with -O verity
#   boot 0 verity required, objects without fs-verity: refused, naming the file
#   boot 1 composefs=yes (no verity): the OS enables fs-verity on every
#          object and image with `gostree fsverity enable`
#   boot 2 verity=require: marker v1; the OS runs `gostree admin upgrade`
#   boot 3 marker v2 (verity=require); the OS runs `gostree admin rollback`
#   boot 4 marker v1 again
#   host:  overwrite a data block of v1's marker object in the disk image
#   boot 5 reading the marker fails with EIO, and the kernel's fs-verity
#          message names the object's inode; the OS copies v2's image over
#          v1's deployment image
#   boot 6 the helper refuses the deployment: image digest ≠ commit's
#
# Every boot passes gostree.timings, so the helper's summary line also gives
# runtime_start_ms (the kernel's "Run /init" to the helper's Init: exec and
# the Go runtime's start). Every boot has a timeout (BOOT_TIMEOUT, default
# 120 s; a boot takes about
# 4-15 s under TCG). Without the prerequisites (root, qemu, busybox-static, e2fsprogs,
# kmod, network to the Debian mirror) it skips with the reason, or fails
# when GOSTREE_TEST_NO_SKIP=1. Timings go to $WORK/timings.txt and are
# printed at the end.
#
# Environment: GOSTREE_BOOTTEST_CACHE (kernel cache, default
# /var/cache/gostree-boottest), DEBIAN_MIRROR, KERNEL_SUITES (default
# "bookworm-backports trixie"), BOOT_TIMEOUT, BOOT_BASELINE=N (N extra
# boots each of a busybox-only initramfs, of scripts/baseline-init.c doing
# the helper's mounts with no checks (needs gcc), and of the helper, to
# compare; see baseline below), BOOT_EXTRA_KARGS (e.g.
# gostree.debug for the helper's step timings), KEEP=1 (keep the work
# directory).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
export PATH=/usr/local/go/bin:$PATH:/usr/sbin:/sbin
CACHE=${GOSTREE_BOOTTEST_CACHE:-/var/cache/gostree-boottest}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
KERNEL_SUITES=${KERNEL_SUITES:-"bookworm-backports trixie"}
T0=$(date +%s.%N)

log() { printf 'boot-test: %s\n' "$*" >&2; }
die() { printf 'boot-test: FAIL: %s\n' "$*" >&2; exit 1; }
skip() {
	if [ "${GOSTREE_TEST_NO_SKIP:-}" = 1 ]; then
		die "cannot run (GOSTREE_TEST_NO_SKIP=1): $*"
	fi
	printf 'boot-test: SKIP: %s\n' "$*" >&2
	exit 0
}
elapsed() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }

# --- prerequisites -------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root (the sysroot records root ownership; mkfs.ext4 -d copies it)"
for t in qemu-system-x86_64 mkfs.ext4 debugfs depmod dpkg-deb apt-get go timeout; do
	command -v "$t" >/dev/null || skip "$t not found (apt-get install qemu-system-x86 e2fsprogs kmod busybox-static)"
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || skip "busybox not found (apt-get install busybox-static)"
if LC_ALL=C ldd "$BUSYBOX" >/dev/null 2>&1; then
	skip "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
fi

WORK=$(mktemp -d /tmp/gostree-boottest.XXXXXX)
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
TIMINGS=$WORK/timings.txt
: >"$TIMINGS"

# --- kernel --------------------------------------------------------------
# A private apt state: nothing in /etc/apt, /var/lib/apt or /boot changes.
mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}')
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}')
	echo "${m:-http://deb.debian.org/debian}"
}

fetch_kernel() { # SUITE -> sets KDIR, KVER
	local suite=$1 A=$CACHE/apt-$1 opt pkg deb
	mkdir -p "$A/lists/partial" "$A/archives/partial" "$CACHE/debs"
	echo "deb $(mirror) $suite main" >"$A/sources.list"
	opt=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$A/lists" -o Dir::State::status=/dev/null -o "Dir::Cache=$A"
		-o APT::Sandbox::User=root -o Acquire::Retries=2 -o Acquire::http::Timeout=30)
	apt-get "${opt[@]}" -qq update >"$A/update.log" 2>&1 || return 1
	pkg=$(apt-cache "${opt[@]}" depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || return 1
	KVER=${pkg#linux-image-}
	KDIR=$CACHE/kernel-$KVER
	if [ -f "$KDIR/.complete" ]; then return 0; fi
	(cd "$CACHE/debs" && apt-get "${opt[@]}" -qq download "$pkg") >"$A/download.log" 2>&1 || return 1
	deb=$(ls "$CACHE/debs/${pkg}"_*.deb | tail -1)
	rm -rf "$KDIR" && mkdir -p "$KDIR"
	dpkg-deb -x "$deb" "$KDIR" || return 1
	# trixie keeps modules in usr/lib; bookworm's depmod looks in lib.
	if [ ! -e "$KDIR/lib/modules" ] && [ -d "$KDIR/usr/lib/modules" ]; then ln -s usr/lib "$KDIR/lib"; fi
	depmod -b "$KDIR" "$KVER" || return 1
	rm -f "$deb"
	touch "$KDIR/.complete"
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

t=$(date +%s.%N)
KVER= KDIR=
for suite in $KERNEL_SUITES; do
	if fetch_kernel "$suite" && version_ge "${KVER%%-*}" 6.12; then break; fi
	log "no usable kernel from $suite (${KVER:-none})"
	KVER= KDIR=
done
if [ -z "$KVER" ]; then
	# No network: use a kernel fetched earlier, if any.
	KDIR=$(ls -d "$CACHE"/kernel-6.* 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$KDIR" ] && [ -f "$KDIR/.complete" ]; then
		KVER=${KDIR#"$CACHE"/kernel-}
		log "Debian mirror unreachable; using the cached kernel $KVER"
	else
		skip "cannot fetch a ≥ 6.12 Debian kernel (linux-image-amd64 from $KERNEL_SUITES at $(mirror)): no network to the mirror? (see $CACHE/apt-*/update.log)"
	fi
fi
VMLINUZ=$KDIR/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in the kernel package"
echo "kernel_fetch_s $(elapsed "$t")" >>"$TIMINGS"
log "kernel $KVER ($(elapsed "$t") s)"

# --- build ---------------------------------------------------------------
t=$(date +%s.%N)
BIN=$WORK/bin
mkdir -p "$BIN"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/gostree" ./cmd/gostree
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -tags initramfs -o "$BIN/gostree-prepare-root" ./cmd/gostree-mount
G=$BIN/gostree
echo "go_build_s $(elapsed "$t")" >>"$TIMINGS"

printf '[composefs]\nenabled = verity\n' >"$WORK/prepare-root.conf"
# v1's initramfs holds the modules decompressed (--decompress-modules), v2's
# as Debian ships them (.ko.xz, decompressed by the kernel at boot), so both
# ways are booted and their module loading times compared.
build_initramfs() { # OUTPUT [BUILD OPTION]...
	local out=$1
	shift
	"$G" initramfs build --kver="$KVER" --modules-dir="$KDIR/lib/modules" \
		--module=ext4 --module=virtio_blk --module=erofs --module=overlay --module=loop \
		--helper="$BIN/gostree-prepare-root" --config="$WORK/prepare-root.conf" \
		--compress=zstd "$@" -o "$out"
}
build_initramfs "$WORK/initramfs.img" --decompress-modules >"$WORK/initramfs.txt"
cat "$WORK/initramfs.txt" >&2
build_initramfs "$WORK/initramfs2.img" --decompress-modules >/dev/null
cmp -s "$WORK/initramfs.img" "$WORK/initramfs2.img" || die "two builds of the initramfs differ"
build_initramfs "$WORK/initramfs-xz.img" >"$WORK/initramfs-xz.txt"
echo "initramfs_bytes $(stat -c %s "$WORK/initramfs.img")" >>"$TIMINGS"
echo "initramfs_cpio_bytes $(sed -n 's/.*cpio \([0-9]*\) bytes.*/\1/p' "$WORK/initramfs.txt")" >>"$TIMINGS"
echo "initramfs_xz_modules_bytes $(stat -c %s "$WORK/initramfs-xz.img")" >>"$TIMINGS"
echo "initramfs_xz_modules_cpio_bytes $(sed -n 's/.*cpio \([0-9]*\) bytes.*/\1/p' "$WORK/initramfs-xz.txt")" >>"$TIMINGS"
echo "helper_bytes $(stat -c %s "$BIN/gostree-prepare-root")" >>"$TIMINGS"

# The OS: busybox, an init script, gostree, the kernel and the initramfs.
make_tree() { # DIR VERSION INITRAMFS
	local d=$1 v=$2 img=$3
	mkdir -p "$d"/usr/{bin,sbin,lib,etc,share/gostree-test} "$d"/{dev,proc,sys,run,tmp,var,sysroot,boot}
	chmod 1777 "$d/tmp"
	cp "$BUSYBOX" "$d/usr/bin/busybox"
	for a in sh cat echo grep sed mount sync poweroff rm cp ls sleep; do ln -s busybox "$d/usr/bin/$a"; done
	ln -s usr/bin "$d/bin"
	ln -s usr/sbin "$d/sbin"
	ln -s usr/lib "$d/lib"
	cp "$G" "$d/usr/bin/gostree"
	cp "$SRC/scripts/boot-test-init.sh" "$d/usr/sbin/init"
	chmod 755 "$d/usr/sbin/init"
	echo "GOSTREE-MARKER-v$v" >"$d/usr/share/gostree-test/marker"
	printf 'PRETTY_NAME="gostree boot test"\nID=gostree-test\nVERSION_ID=%s\n' "$v" >"$d/usr/lib/os-release"
	echo "gostree-test" >"$d/usr/etc/hostname"
	mkdir -p "$d/usr/lib/modules/$KVER"
	cp "$VMLINUZ" "$d/usr/lib/modules/$KVER/vmlinuz"
	cp "$img" "$d/usr/lib/modules/$KVER/initramfs.img"
}
make_tree "$WORK/tree1" 1 "$WORK/initramfs.img"
make_tree "$WORK/tree2" 2 "$WORK/initramfs-xz.img"

S=$WORK/sysroot
REPO=$S/ostree/repo
"$G" admin init-fs "$S"
"$G" admin --sysroot="$S" os-init testos >/dev/null
"$G" --repo="$REPO" commit -b testos/stable -s v1 --add-metadata-string=version=1 \
	--tree=dir="$WORK/tree1" --generate-composefs-metadata >"$WORK/commit1"
"$G" admin --sysroot="$S" deploy --os=testos --karg=root=LABEL=gostree-root --karg=rw testos/stable >&2
"$G" --repo="$REPO" commit -b testos/stable -s v2 --add-metadata-string=version=2 \
	--tree=dir="$WORK/tree2" --generate-composefs-metadata >"$WORK/commit2"
C1=$(tr -d '[:space:]' <"$WORK/commit1")
C2=$(tr -d '[:space:]' <"$WORK/commit2")
[ ${#C1} = 64 ] && [ ${#C2} = 64 ] || die "unexpected commit output: $C1 / $C2"
MARKER_OBJ=$("$G" --repo="$REPO" ls -C "$C1" /usr/share/gostree-test/marker | awk '{print $5}')
[ ${#MARKER_OBJ} = 64 ] || die "cannot find the marker's object: $MARKER_OBJ"
MARKER_PATH=/ostree/repo/objects/${MARKER_OBJ:0:2}/${MARKER_OBJ:2}.file

DISK=$WORK/disk.img
mkfs.ext4 -q -F -b 4096 -O verity -L gostree-root -d "$S" "$DISK" 512M
echo "host_setup_s $(elapsed "$T0")" >>"$TIMINGS"
log "disk image ready ($(elapsed "$T0") s since start); commits v1=$C1 v2=$C2"

# --- booting -------------------------------------------------------------
dfs() { debugfs -R "$1" "$DISK" 2>/dev/null; }

# bls_default prints the default boot entry (highest version) of the disk.
bls_default() {
	local best= bestv=-1 n v
	for n in $(dfs "ls -p /boot/loader/entries" | awk -F/ '$6 ~ /\.conf$/ {print $6}'); do
		v=$(dfs "cat /boot/loader/entries/$n" | awk '$1 == "version" {print $2}')
		if [ "$v" -gt "$bestv" ]; then bestv=$v best=$n; fi
	done
	[ -n "$best" ] || die "no boot entries on the disk"
	dfs "cat /boot/loader/entries/$best"
}

# boot NAME KARGS...: boots the default entry, serial console in $WORK/NAME.log.
boot() {
	local name=$1 entry linux initrd options t rc
	shift
	entry=$(bls_default)
	linux=$(awk '$1 == "linux" {print $2}' <<<"$entry")
	initrd=$(awk '$1 == "initrd" {print $2}' <<<"$entry")
	options=$(sed -n 's/^options //p' <<<"$entry")
	dfs "dump /boot$linux $WORK/vmlinuz" >/dev/null
	dfs "dump /boot$initrd $WORK/initrd" >/dev/null
	[ -s "$WORK/vmlinuz" ] && [ -s "$WORK/initrd" ] || die "$name: cannot read /boot$linux or /boot$initrd from the disk"
	log "$name: booting $(awk '$1 == "title" {$1=""; print}' <<<"$entry") with: $options $*"
	t=$(date +%s.%N)
	rc=0
	timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
		-kernel "$WORK/vmlinuz" -initrd "$WORK/initrd" \
		-drive "file=$DISK,if=virtio,format=raw,cache=unsafe" \
		-append "$options console=ttyS0 panic=-1 loglevel=5 gostree.timings $* ${BOOT_EXTRA_KARGS:-}" \
		-nographic -no-reboot -nodefaults -serial stdio -monitor none \
		</dev/null >"$WORK/$name.log" 2>&1 || rc=$?
	tr -d '\r' <"$WORK/$name.log" >"$WORK/$name.txt"
	echo "boot_${name}_s $(elapsed "$t")" >>"$TIMINGS"
	if [ "$rc" = 124 ]; then
		tail -30 "$WORK/$name.txt" >&2
		die "$name: no power-off within ${BOOT_TIMEOUT}s"
	fi
	grep -E 'gostree-prepare-root|GOSTREE-|fs-verity|overlayfs:' "$WORK/$name.txt" | sed "s/^/  [$name] /" >&2 || true
}

expect() { # NAME REGEX WHAT
	grep -qE "$2" "$WORK/$1.txt" || { tail -40 "$WORK/$1.txt" >&2; die "$1: $3 (no line matching /$2/)"; }
}
refute() { # NAME REGEX WHAT
	if grep -qE "$2" "$WORK/$1.txt"; then grep -E "$2" "$WORK/$1.txt" >&2; die "$1: $3"; fi
}
PASSED=()
pass() { PASSED+=("$1"); log "PASS: $1"; }

ROOT_VERITY='GOSTREE-ROOT-MOUNT: composefs / overlay ro.*verity=require'

# 0: objects have no fs-verity yet; verity=require refuses the root.
boot unverified
expect unverified 'gostree-prepare-root: FAILED: exec /sbin/init in the deployment: input/output error' "the helper did not refuse the unverified root"
expect unverified "gostree-prepare-root: kernel: overlayfs: lower file '[0-9a-f]{62}\.file' has no fs-verity digest" "the helper did not report the kernel's message naming the object"
refute unverified 'GOSTREE-MARKER' "the OS ran from an unverified root"
pass "unverified objects refused under verity=require"

# 1: first stage, without verity: enable fs-verity with gostree itself.
boot stage1 ostree.prepare-root.composefs=yes gostree.test=enable-verity
expect stage1 'GOSTREE-MARKER: GOSTREE-MARKER-v1' "v1 did not boot with composefs=yes"
expect stage1 'GOSTREE-TEST: enabled fs-verity on [1-9][0-9]* files' "fs-verity was not enabled"
expect stage1 'GOSTREE-TEST-DONE: enable-verity ok' "enable-verity failed"
pass "stage 1: fs-verity enabled on the objects inside the VM"

# 2: verity=require, v1; upgrade to v2.
boot v1 gostree.test=upgrade
expect v1 'GOSTREE-MARKER: GOSTREE-MARKER-v1' "v1 marker missing"
expect v1 "$ROOT_VERITY" "the root is not a composefs overlay with verity=require"
expect v1 'gostree-prepare-root: switching root .*composefs=true verity=true image_digest=[0-9a-f]{64} digest_from=kernel' "the helper did not mount with verity"
expect v1 'GOSTREE-TEST-DONE: upgrade ok' "gostree admin upgrade failed"
pass "boot v1 with verity=require (marker from the composefs root)"

boot v2 gostree.test=rollback
expect v2 'GOSTREE-MARKER: GOSTREE-MARKER-v2' "v2 marker missing after upgrade"
expect v2 "$ROOT_VERITY" "v2 root is not verity=require"
expect v2 'GOSTREE-TEST-DONE: rollback ok' "gostree admin rollback failed"
pass "upgrade, then boot v2"

boot rollback
expect rollback 'GOSTREE-MARKER: GOSTREE-MARKER-v1' "v1 marker missing after rollback"
expect rollback "$ROOT_VERITY" "rolled-back root is not verity=require"
pass "rollback, then boot v1"

# A copy of the disk in its good state (v1 default, verity on), for the
# comparison boots at the end (BOOT_BASELINE).
if [ "${BOOT_BASELINE:-0}" -gt 0 ]; then cp --sparse=always "$DISK" "$WORK/disk-good.img"; fi

# Tamper: overwrite the first data block of v1's marker object.
BLK=$(dfs "bmap $MARKER_PATH 0" | tr -d '[:space:]')
INO=$(dfs "stat $MARKER_PATH" | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
[ -n "$BLK" ] && [ "$BLK" -gt 0 ] && [ -n "$INO" ] || die "cannot locate $MARKER_PATH in the disk image"
head -c 4096 /dev/zero | tr '\0' 'X' | dd of="$DISK" bs=4096 seek="$BLK" count=1 conv=notrunc status=none
log "tampered with $MARKER_PATH (inode $INO, block $BLK)"
boot tamper gostree.test=swap-image gostree.test.from="$C2" gostree.test.to="$C1"
expect tamper 'GOSTREE-TEST-READ-FAILED: /usr/share/gostree-test/marker' "reading the tampered marker did not fail"
expect tamper 'cat: read error: (Input/output|I/O) error' "the read did not fail with EIO"
expect tamper "fs-verity \(vda, inode $INO\): FILE CORRUPTED" "no fs-verity message naming inode $INO ($MARKER_PATH)"
refute tamper 'GOSTREE-MARKER: GOSTREE-MARKER' "tampered content was read"
expect tamper 'GOSTREE-TEST-DONE: swap-image ok' "could not replace the image"
pass "tampered object: EIO on read, kernel names inode $INO = $MARKER_PATH"

boot mismatch
expect mismatch 'gostree-prepare-root: FAILED: .*does not match its commit' "the helper did not refuse a mismatched image"
refute mismatch 'GOSTREE-MARKER' "the OS ran with a mismatched image"
pass "image digest mismatch refused"

# --- baseline (BOOT_BASELINE=N) -------------------------------------------
# What the helper adds to a boot, against the least an initramfs does: a
# busybox /init that mounts /dev, /proc, /sys and /run, loads the same
# modules (decompressed here: busybox insmod), waits for /dev/vda, mounts
# it and runs switch_root into a plain ext4 root (the v1 tree). N boots of
# it alternate with N boots of v1 through the helper; each side's time
# from the kernel's "Run /init" to the exec of the OS's init, without
# module loading and the root device wait, is printed with the medians.
baseline() {
	local n=$1 bl=$WORK/baseline i m k line
	rm -rf "$bl" && mkdir -p "$bl/root" "$bl/initrd"/{bin,dev,proc,sys,run,sysroot,mods}
	cp -a "$WORK/tree1/." "$bl/root/"
	ln -sf busybox "$bl/root/usr/bin/dmesg"
	printf '#!/bin/sh\necho "baseline: os init" >/dev/kmsg\ndmesg | grep -E "Run /init|baseline:"\npoweroff -f\n' >"$bl/root/usr/sbin/init"
	chmod 755 "$bl/root/usr/sbin/init"
	truncate -s 256M "$bl/disk.img"
	mkfs.ext4 -q -F -d "$bl/root" "$bl/disk.img"
	cp "$BUSYBOX" "$bl/initrd/bin/busybox"
	k=0
	for m in $(sed -n 's/.* modules: //p' "$WORK/initramfs.txt"); do
		k=$((k + 1))
		f=$(find "$KDIR/lib/modules/$KVER/" -name "$m" | head -1)
		[ -n "$f" ] || die "baseline: module $m not found"
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$bl/initrd/mods/$(printf %02d $k).ko"
	done
	cat >"$bl/initrd/init" <<'INIT'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t devtmpfs -o mode=0755 devtmpfs /dev
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t tmpfs -o mode=0755 tmpfs /run
echo "baseline: modules start" >/dev/kmsg
for m in /mods/*.ko; do $B insmod $m; done
echo "baseline: modules done" >/dev/kmsg
while [ ! -b /dev/vda ]; do $B usleep 1000; done
echo "baseline: root device" >/dev/kmsg
$B mount -t ext4 -o rw /dev/vda /sysroot
for d in dev proc sys run; do $B mount --move /$d /sysroot/$d; done
echo "baseline: switch" >/sysroot/dev/kmsg
exec $B switch_root /sysroot /sbin/init
INIT
	chmod 755 "$bl/initrd/init"
	(cd "$bl/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$bl/initrd.cpio"
	# The composefs baseline: scripts/baseline-init.c as /init, same modules,
	# booting the helper's disk (v1, verity on) with the v1 entry's options.
	local cb=$WORK/cbaseline copts=""
	if command -v gcc >/dev/null; then
		rm -rf "$cb" && mkdir -p "$cb/initrd"/{dev,proc,sys,run,sysroot}
		cp -a "$bl/initrd/mods" "$cb/initrd/"
		gcc -static -O2 -o "$cb/initrd/init" "$SRC/scripts/baseline-init.c" || die "cannot build scripts/baseline-init.c"
		(cd "$cb/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$cb/initrd.cpio"
		cp --sparse=always "$WORK/disk-good.img" "$DISK"
		copts=$(bls_default | sed -n 's/^options //p')
	else
		log "no gcc: skipping the composefs baseline (scripts/baseline-init.c)"
	fi
	: >"$bl/results.txt"
	for i in $(seq "$n"); do
		timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
			-kernel "$WORK/vmlinuz" -initrd "$bl/initrd.cpio" \
			-drive "file=$bl/disk.img,if=virtio,format=raw,cache=unsafe" \
			-append "console=ttyS0 panic=-1 loglevel=5" \
			-nographic -no-reboot -nodefaults -serial stdio -monitor none </dev/null 2>&1 | tr -d '\r' >"$bl/boot.txt" || true
		line=$(sed -n 's/^\[ *\([0-9.]*\)\] \(Run \/init\|baseline: [a-z ]*\).*/\1 \2/p' "$bl/boot.txt" | awk '
			/Run/ {r=$1} /modules start/ {a=$1} /modules done/ {b=$1} /root device/ {c=$1} /switch/ {w=$1}
			END {if (w) printf "%.1f %.1f", ((w-r)-(b-a)-(c-b))*1000, (b-a)*1000}')
		[ -n "$line" ] || { tail -20 "$bl/boot.txt" >&2; die "baseline boot $i printed no timings"; }
		echo "baseline ${line% *} ${line#* }" >>"$bl/results.txt"
		if [ -n "$copts" ]; then
			cp --sparse=always "$WORK/disk-good.img" "$cb/disk.img"
			timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
				-kernel "$WORK/vmlinuz" -initrd "$cb/initrd.cpio" \
				-drive "file=$cb/disk.img,if=virtio,format=raw,cache=unsafe" \
				-append "$copts console=ttyS0 panic=-1 loglevel=5 printk.devkmsg=on" \
				-nographic -no-reboot -nodefaults -serial stdio -monitor none </dev/null 2>&1 | tr -d '\r' >"$cb/boot$i.txt" || true
			grep -q 'GOSTREE-MARKER: GOSTREE-MARKER-v1' "$cb/boot$i.txt" || { tail -20 "$cb/boot$i.txt" >&2; die "composefs baseline boot $i did not reach the v1 marker"; }
			line=$(sed -n 's/^\[ *\([0-9.]*\)\] \(Run \/init\|baseline: [a-z ]*\).*/\1 \2/p' "$cb/boot$i.txt" | awk '
				/Run/ {r=$1} /modules start/ {a=$1} /modules done/ {b=$1} /root device/ {c=$1} /switch/ {w=$1}
				END {if (w) printf "%.1f %.1f", ((w-r)-(b-a)-(c-b))*1000, (b-a)*1000}')
			[ -n "$line" ] || { tail -20 "$cb/boot$i.txt" >&2; die "composefs baseline boot $i printed no timings"; }
			echo "cfs-baseline ${line% *} ${line#* }" >>"$bl/results.txt"
		fi
		cp --sparse=always "$WORK/disk-good.img" "$DISK"
		boot "compare$i"
		line=$(sed -n 's/.*gostree-prepare-root: switching root .*modules_ms=\([0-9.]*\).* own_ms=\([0-9.]*\) runtime_start_ms=\([0-9.]*\).*/\1 \2 \3/p' "$WORK/compare$i.txt")
		[ -n "$line" ] || die "compare$i: the helper printed no timings"
		set -- $line
		echo "helper $(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.1f", a + b}') $1" >>"$bl/results.txt"
	done
	log "baseline comparison (ms from Run /init to exec of the OS init, without modules and root wait; then module loading):"
	sed 's/^/  /' "$bl/results.txt" >&2
	for side in baseline cfs-baseline helper; do
		echo "${side}_median_ms $(awk -v s=$side '$1 == s {print $2}' "$bl/results.txt" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" >>"$TIMINGS"
	done
	# What the helper adds: each round's helper boot minus the same round's
	# C /init boot (the host's speed drifts between rounds), median.
	if [ -n "$copts" ]; then
		echo "helper_minus_cfs_paired_median_ms $(awk '$1 == "cfs-baseline" {c=$2} $1 == "helper" {printf "%.1f\n", $2 - c}' "$bl/results.txt" |
			sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2] + a[NR/2+1]) / 2}')" >>"$TIMINGS"
	fi
}
if [ "${BOOT_BASELINE:-0}" -gt 0 ]; then baseline "$BOOT_BASELINE"; fi

# --- report --------------------------------------------------------------
echo "total_s $(elapsed "$T0")" >>"$TIMINGS"
for n in v1 v2 rollback; do
	sed -n 's/.*gostree-prepare-root: switching root \(.*\)/'"$n"' \1/p' "$WORK/$n.txt" >>"$WORK/helper-timings.txt"
done
log "helper timings (ms):"
sed 's/^/  /' "$WORK/helper-timings.txt" >&2
log "timings (s, bytes):"
sed 's/^/  /' "$TIMINGS" >&2
if [ -n "${BOOTTEST_RESULTS:-}" ]; then cp "$TIMINGS" "$BOOTTEST_RESULTS"; cat "$WORK/helper-timings.txt" >>"$BOOTTEST_RESULTS"; fi
log "all ${#PASSED[@]} cases passed in $(elapsed "$T0") s: kernel $KVER"
