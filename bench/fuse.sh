#!/usr/bin/env bash
# bench/fuse.sh: the same commit read four ways, side by side, in one run:
#   (a) native   a copy checkout on the local file system (ext4 here)
#   (b) cfs      the kernel composefs mount (gostree-mount --composefs: EROFS + overlayfs)
#   (c) fuse     gostree-mount --fuse, every byte verified (Merkle trees from the tree cache)
#   (d) fuse-off gostree-mount --fuse --verify=off (FUSE passthrough where the kernel allows)
# Measured: `find -exec stat` over the whole tree, `cat` of every small file, and `dd` of one
# 1 GiB file; cold (caches dropped, fresh mount) and warm (repeated at once). Also the first
# open of the 1 GiB file through FUSE without a cached Merkle tree.
#
# Usage (as root: drops caches, mounts): bench/fuse.sh [WORKDIR]
#   WORKDIR    default /var/tmp/gostree-fuse-bench; trees, repo and checkout are kept for reuse
#   NFILES     small files in the commit (default 100000)
#   BIG_MIB    size of the big file (default 1024)
#   RUNS       best of RUNS for each cell (default 3)
# Prints a markdown table (seconds, best of RUNS) on stdout; progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-/var/tmp/gostree-fuse-bench}
NFILES=${NFILES:-100000}
BIG_MIB=${BIG_MIB:-1024}
RUNS=${RUNS:-3}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
BIN=$WORK/bin
log() { printf '%s\n' "$*" >&2; }

log "building binaries"
(cd "$ROOT" && go build -o "$BIN/gostree" ./cmd/gostree && go build -o "$BIN/gostree-mount" ./cmd/gostree-mount)

SRC=$WORK/src-$NFILES-$BIG_MIB
if [[ ! -d $SRC ]]; then
	log "generating $NFILES files and a $BIG_MIB MiB file in $SRC"
	python3 - "$SRC.tmp" "$NFILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "e%02d" % (i // 100 % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    size = min(int(rnd.lognormvariate(8, 1.5)), 1 << 20)  # median ~3 KiB
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(rnd.randbytes(size))
PY
	mkdir -p "$SRC.tmp/big"
	head -c $((BIG_MIB << 20)) /dev/urandom >"$SRC.tmp/big/file"
	mv "$SRC.tmp" "$SRC"
fi
REPO=$WORK/repo-$NFILES-$BIG_MIB
if [[ ! -d $REPO ]]; then
	log "committing $SRC"
	"$BIN/gostree" init --repo="$REPO.tmp" --mode=bare
	"$BIN/gostree" commit --repo="$REPO.tmp" -b main -s bench --timestamp=@1577836800 "$SRC" >/dev/null
	mv "$REPO.tmp" "$REPO"
fi
NATIVE=$WORK/native-$NFILES-$BIG_MIB
if [[ ! -d $NATIVE ]]; then
	log "checking out (copies, so the repository's verity records stay valid)"
	"$BIN/gostree" checkout --repo="$REPO" --force-copy main "$NATIVE.tmp"
	mv "$NATIVE.tmp" "$NATIVE"
fi
TREES=$WORK/trees
mkdir -p "$WORK/mnt"

mounted() { grep -q " $1 " /proc/self/mountinfo; }
unmount() {
	local mp=$WORK/mnt
	if mounted "$mp"; then
		case $1 in
		cfs) "$BIN/gostree-mount" --composefs --unmount "$mp" || umount "$mp" ;;
		*) fusermount3 -u "$mp" ;;
		esac
	fi
}
# setup TARGET: mount it (if it is a mount) and print the directory to read.
setup() {
	local mp=$WORK/mnt
	case $1 in
	native) echo "$NATIVE" ;;
	cfs) "$BIN/gostree-mount" --composefs --repo="$REPO" main "$mp" >&2 && echo "$mp" ;;
	fuse) "$BIN/gostree-mount" --fuse --repo="$REPO" --tree-cache="$TREES" main "$mp" >&2 && echo "$mp" ;;
	fuse-notree) "$BIN/gostree-mount" --fuse --repo="$REPO" --tree-cache= main "$mp" >&2 && echo "$mp" ;;
	fuse-off) "$BIN/gostree-mount" --fuse --repo="$REPO" --verify=off main "$mp" 2>/dev/null && echo "$mp" ;;
	esac
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
secs() { # secs CMD...: run, print elapsed seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || { log "FAILED: $*"; echo fail; return; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}
walk() { find "$1" -exec stat -c '%i %s %a %u %g' {} +; }
catall() { find "$1" -path "$1/big" -prune -o -type f -exec cat {} +; }
ddbig() { dd if="$1/big/file" of=/dev/null bs=1M; }

declare -A best
record() { # record KEY VALUE: keep the minimum; a failure sticks
	local k=$1 v=$2
	if [[ $v == fail ]]; then best[$k]=fail; return; fi
	if [[ ${best[$k]:-} == fail ]]; then return; fi
	if [[ -z ${best[$k]:-} ]] || (($(echo "$v < ${best[$k]}" | bc -l))); then best[$k]=$v; fi
}

TARGETS=(native cfs fuse fuse-off)
for ((r = 1; r <= RUNS; r++)); do
	for t in "${TARGETS[@]}" fuse-notree; do
		log "run $r/$RUNS: $t"
		unmount cfs 2>/dev/null || true
		unmount fuse 2>/dev/null || true
		if [[ $t == fuse-notree ]]; then
			drop
			dir=$(setup "$t") || { record "$t/dd/cold" fail; continue; }
			record "$t/dd/cold" "$(secs ddbig "$dir")"
			unmount fuse
			continue
		fi
		for op in walk catall ddbig; do
			unmount "$t" 2>/dev/null || true
			drop
			dir=$(setup "$t") || { record "$t/$op/cold" fail; record "$t/$op/warm" fail; continue; }
			record "$t/$op/cold" "$(secs "$op" "$dir")"
			record "$t/$op/warm" "$(secs "$op" "$dir")"
		done
		unmount "$t" 2>/dev/null || true
	done
done

files=$(find "$NATIVE" -type f | wc -l)
echo "Commit: $files files ($NFILES small, median ~3 KiB, plus one $BIG_MIB MiB file), bare repository."
echo "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(uname -r), $(go version | cut -d' ' -f3)."
echo "Seconds, best of $RUNS. Cold: caches dropped and a fresh mount before the command; warm: the same command again at once."
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| target | find -exec stat cold | warm | cat every small file cold | warm | dd 1 GiB cold | warm |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" \
		"${best[$t/walk/cold]}" "${best[$t/walk/warm]}" "${best[$t/catall/cold]}" "${best[$t/catall/warm]}" \
		"${best[$t/ddbig/cold]}" "${best[$t/ddbig/warm]}"
done
echo
echo "First open of the 1 GiB file through FUSE with verification and no cached Merkle tree (cold): ${best[fuse-notree/dd/cold]} s."
