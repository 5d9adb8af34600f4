#!/usr/bin/env bash
# bench/verity-commit.sh: the cost of recording fs-verity digests at commit.
# Commits the same corpus into fresh bare-user repositories with and without
# --no-verity-digests, in ABBA order (with, without, without, with, ...), and
# prints each run's wall and CPU times and the medians.
#
# Each repository is made on a fresh ext4 filesystem (a loop image under
# $LOOPDIR, default /var/tmp, attached with direct I/O) when run as root, so no run inherits the
# previous run's deleted inodes or dirty pages; otherwise in a plain
# directory. The corpus is read once first so every run starts with it in
# the page cache.
#
# Usage: bench/verity-commit.sh [CORPUS] [ROUNDS]   (default /usr, 3 rounds)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS=${1:-/usr}
ROUNDS=${2:-3}
LOOPDIR=${LOOPDIR:-/var/tmp}
WORK=$(mktemp -d -t gostree-verity-bench.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"
LOOPDEV=
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	if [ -n "$LOOPDEV" ]; then losetup -d "$LOOPDEV" 2>/dev/null || true; fi
	rm -rf "$WORK" "$LOOPDIR"/gostree-verity-bench.img
}
trap cleanup EXIT
(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree)
G=$WORK/gostree
tar -C "$CORPUS" -cf - . 2>/dev/null | cat >/dev/null || true # warm the page cache
SIZE_KB=$(du -sk "$CORPUS" 2>/dev/null | cut -f1)
USE_LOOP=0
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null; then USE_LOOP=1; fi

# run FLAG: one commit into a fresh repository; prints "wall user sys".
run() {
	local repo=$WORK/repo
	if [ "$USE_LOOP" = 1 ]; then
		local img=$LOOPDIR/gostree-verity-bench.img
		rm -f "$img"
		truncate -s $((SIZE_KB * 2 + 4194304))K "$img"
		# Direct I/O: the loop device writes through to the disk like a
		# real one, without a second page cache copy of everything.
		LOOPDEV=$(losetup --direct-io=on -f --show "$img")
		mkfs.ext4 -q -F "$LOOPDEV"
		mount "$LOOPDEV" "$MNT"
		repo=$MNT/repo
	else
		rm -rf "$repo"
	fi
	"$G" init --repo="$repo" --mode=bare-user
	sync
	/usr/bin/time -f '%e %U %S' -o "$WORK/time" "$G" commit --repo="$repo" -b b --no-stat-cache $1 --tree=dir="$CORPUS" >/dev/null
	cat "$WORK/time"
	if [ "$USE_LOOP" = 1 ]; then
		umount "$MNT"
		losetup -d "$LOOPDEV"
	fi
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "corpus $CORPUS ($SIZE_KB KiB), $(nproc) CPUs, loop ext4: $USE_LOOP, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run | digests | wall s | user s | sys s |"
echo "| --- | --- | ---: | ---: | ---: |"
: >"$WORK/with"
: >"$WORK/without"
n=0
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="with without"; else order="without with"; fi
	for k in $order; do
		n=$((n + 1))
		flag=""
		[ "$k" = without ] && flag=--no-verity-digests
		read -r wall user sys < <(run "$flag")
		echo "$wall $user $sys" >>"$WORK/$k"
		echo "| $n | $k | $wall | $user | $sys |"
	done
done
mw=$(cut -d' ' -f1 "$WORK/with" | median)
mo=$(cut -d' ' -f1 "$WORK/without" | median)
cw=$(awk '{print $2 + $3}' "$WORK/with" | median)
co=$(awk '{print $2 + $3}' "$WORK/without" | median)
echo
echo "median wall: with $mw s, without $mo s: $(awk -v a="$mw" -v b="$mo" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}')"
echo "median CPU (user+sys): with $cw s, without $co s: $(awk -v a="$cw" -v b="$co" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}')"
