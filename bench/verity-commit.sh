#!/usr/bin/env bash
# bench/verity-commit.sh: the cost of recording fs-verity digests at commit.
# Commits the same corpus into fresh bare-user repositories with and without
# --no-verity-digests, alternating, and prints the wall times.
#
# Usage: bench/verity-commit.sh [CORPUS] [ROUNDS]   (default /usr, 3 rounds)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS=${1:-/usr}
ROUNDS=${2:-3}
WORK=$(mktemp -d -t gostree-verity-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree)
G=$WORK/gostree
cat "$(find "$CORPUS" -type f | head -1)" >/dev/null
tar -C "$CORPUS" -cf - . >/dev/null 2>&1 || true # warm the page cache
# Wall time swings with the machine's load; CPU time (user+sys) is the
# steadier measure of the extra hashing.
echo "| round | with digests: wall s / CPU s | without: wall s / CPU s |"
echo "| --- | --- | --- |"
for r in $(seq "$ROUNDS"); do
	t=()
	for flag in "" "--no-verity-digests"; do
		rm -rf "$WORK/repo"
		"$G" init --repo="$WORK/repo" --mode=bare-user
		sync
		t+=("$( /usr/bin/time -f '%e / %U+%S' "$G" commit --repo="$WORK/repo" -b b --no-stat-cache $flag --tree=dir="$CORPUS" 2>&1 >/dev/null | tail -1 )")
	done
	echo "| $r | ${t[0]} | ${t[1]} |"
done
