#!/usr/bin/env bash
# The main job, end to end on a built-in sample tree: create a repository,
# commit a tree, show the log, list and read the commit, mount it (FUSE and,
# as root, composefs), deploy it into a demo sysroot and show admin status.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GOSTREE:-$PWD/bin/gostree}
M=${GOSTREE_MOUNT:-$PWD/bin/gostree-mount}
work=$(mktemp -d /tmp/gostree-demo.XXXXXX)
mounts=()
cleanup() {
	for m in "${mounts[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

tree=$work/tree
mkdir -p "$tree/usr/bin" "$tree/usr/lib/modules/6.1.0-demo" "$tree/usr/etc" "$tree/etc" "$tree/var/empty"
printf '#!/bin/sh\necho hello from gostree\n' > "$tree/usr/bin/hello"
chmod 0755 "$tree/usr/bin/hello"
printf 'PRETTY_NAME="gostree demo OS"\nID=demo\nVERSION_ID=1\n' > "$tree/usr/lib/os-release"
ln -s ../usr/lib/os-release "$tree/etc/os-release"
printf 'caf\xc3\xa9\n' > "$tree/usr/lib/café"
head -c 100000 /dev/zero > "$tree/usr/lib/zeros"
echo 'KERNEL (a stand-in)' > "$tree/usr/lib/modules/6.1.0-demo/vmlinuz"
echo 'INITRAMFS (a stand-in)' > "$tree/usr/lib/modules/6.1.0-demo/initramfs.img"
echo 'greeting=hello' > "$tree/usr/etc/demo.conf"
setfattr -n user.demo -v yes "$tree/usr/bin/hello" 2>/dev/null || true

run() { printf '\n$ %s\n' "$*"; "$@"; }
run "$G" init --repo="$work/repo" --mode=bare-user
run "$G" commit --repo="$work/repo" -b demo/main -s "First commit" \
    --add-metadata-string=version=1.0 --tree=dir="$tree"
echo changed > "$tree/usr/lib/changed"
run "$G" commit --repo="$work/repo" -b demo/main -s "Second commit" \
    --add-metadata-string=version=1.1 --tree=dir="$tree"
run "$G" --repo="$work/repo" refs
run "$G" --repo="$work/repo" log demo/main
run "$G" --repo="$work/repo" ls -R -X demo/main
run "$G" --repo="$work/repo" cat demo/main /etc/os-release
run "$G" --repo="$work/repo" fsck --verity

# Browse the commit as a mount, with no checkout: FUSE, then composefs.
if [[ -w /dev/fuse ]] && command -v fusermount3 >/dev/null; then
	mkdir "$work/fuse"
	run "$G" --repo="$work/repo" mount demo/main "$work/fuse"
	mounts+=("$work/fuse")
	run ls -l "$work/fuse/usr/bin" "$work/fuse/usr/lib"
	run "$work/fuse/usr/bin/hello"
	run fusermount3 -u "$work/fuse"
else
	echo "(skipping the FUSE mount: /dev/fuse or fusermount3 is missing)"
fi
if [[ $(id -u) == 0 ]]; then
	mkdir "$work/cfs"
	if run "$M" --composefs --repo="$work/repo" demo/main "$work/cfs"; then
		mounts+=("$work/cfs")
		run findmnt -R "$work/cfs"
		run cat "$work/cfs/usr/etc/demo.conf"
		run "$M" --composefs --unmount "$work/cfs"
	else
		echo "(this kernel cannot mount composefs images: needs file-backed EROFS and overlayfs data-only layers)"
	fi
	# A bootable sysroot whose deployment is a composefs image, not a checkout.
	sys=$work/sysroot
	run "$G" admin init-fs "$sys"
	run "$G" admin --sysroot="$sys" os-init demo
	run "$G" commit --repo="$sys/ostree/repo" -b demo/main -s "Demo OS" --add-metadata-string=version=1.0 --tree=dir="$tree"
	run "$G" admin --sysroot="$sys" deploy --os=demo --karg=root=LABEL=root --karg=rw demo/main
	run "$G" admin --sysroot="$sys" status
	run ls -la "$sys/ostree/deploy/demo/deploy/"*/
	run cat "$sys"/boot/loader/entries/*.conf
else
	echo "(skipping composefs and the demo sysroot: they need root)"
fi
