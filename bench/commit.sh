#!/usr/bin/env bash
# bench/commit.sh: compare `ostree commit` and `gostree commit` on the same corpora, in one run.
#
# Usage: bench/commit.sh [WORKDIR]
#
#   WORKDIR          where binaries, generated trees, repos and logs go (default: a new temp dir,
#                    kept afterwards so logs can be read)
#   CORPUS_SMALL=1   dry run: /usr/share/zoneinfo instead of /usr, 2,000 generated files
#                    instead of 100,000
#   GOSTREE=PATH     use this binary instead of building ./cmd/gostree
#   OSTREE=PATH      ostree binary (default: from PATH)
#   USR_CORPUS=DIR   commit DIR instead of /usr (it is read in place, never copied)
#
# Corpora: (1) this machine's /usr, committed in place (both tools only read it); (2) a tree of
# ~100k small files made by objtest.MakeTree. For each corpus and each mode (bare-user, archive)
# and each tool: a fresh commit into an empty repo, then a re-commit of the unchanged tree into
# the same repo. Both tools get the same branch, subject, body and --timestamp, so their commit
# checksums must agree; a mismatch prints a WARNING line. The result is a markdown table on
# stdout; progress goes to stderr. A failed command is reported in the table with its exit
# status and log file, and makes the script exit 1 at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d -t gostree-bench.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
LOGS=$WORK/logs
mkdir -p "$LOGS"
OSTREE=${OSTREE:-$(command -v ostree || true)}
TS=@1577836800
MODES=(bare-user archive)
failures=0

log() { printf '%s\n' "$*" >&2; }

if [[ -z "$OSTREE" ]]; then
	log "ostree not found (apt-get install ostree)"
	exit 1
fi

if [[ -z "${GOSTREE:-}" ]]; then
	log "building gostree"
	(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree)
	GOSTREE=$WORK/gostree
fi

if [[ "${CORPUS_SMALL:-}" == 1 ]]; then
	USR_CORPUS=${USR_CORPUS:-/usr/share/zoneinfo}
	NGEN=2000
else
	USR_CORPUS=${USR_CORPUS:-/usr}
	NGEN=100000
fi

# Generate the many-small-files tree with objtest.MakeTree, in a throwaway module holding a copy
# of objstore/objtest/tree.go (std + x/sys only), so the rest of the repo need not build.
GEN=$WORK/generated-$NGEN
if [[ ! -d "$GEN" ]]; then
	log "generating $NGEN files in $GEN"
	gendir=$WORK/gentree-src
	rm -rf "$gendir"
	mkdir -p "$gendir"
	mkdir -p "$gendir/objtest"
	cp "$ROOT/objstore/objtest/tree.go" "$gendir/objtest/"
	xsys=$(awk '$1 == "golang.org/x/sys" {print $2}' "$ROOT/go.mod")
	cat >"$gendir/go.mod" <<EOF
module gentree

go 1.26

require golang.org/x/sys ${xsys:-v0.50.0}
EOF
	cat >"$gendir/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
	"strconv"

	"gentree/objtest"
)

func main() {
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := os.Mkdir(os.Args[1], 0o755); err != nil {
		panic(err)
	}
	info, err := objtest.MakeTree(os.Args[1], objtest.TreeOptions{ManyFiles: n, Seed: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "generated %d files, %d dirs, %d symlinks\n", info.NumFiles, info.NumDirs, info.NumSymlinks)
}
EOF
	cp "$ROOT/go.sum" "$gendir/go.sum"
	(cd "$gendir" && GOFLAGS=-mod=mod go run . "$GEN.tmp" "$NGEN") || {
		rm -rf "$GEN.tmp"
		exit 1
	}
	mv "$GEN.tmp" "$GEN"
fi

# count_entries DIR: regular files and symlinks (what becomes content objects), on one fs.
count_entries() { find "$1" -xdev \( -type f -o -type l \) | wc -l; }

# timed LOGNAME CMD...: runs CMD, prints "SECONDS EXIT" and keeps stdout/stderr in $LOGS.
timed() {
	local name=$1
	shift
	local start end rc=0
	start=$(date +%s.%N)
	"$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
	end=$(date +%s.%N)
	printf '%s %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')" "$rc"
}

declare -A sums
rows=()

for corpus in usr generated; do
	case $corpus in
	usr) dir=$USR_CORPUS ;;
	generated) dir=$GEN ;;
	esac
	n=$(count_entries "$dir")
	log "corpus $corpus: $dir, $n files+symlinks; warming the page cache"
	tar -C "$dir" -cf - . 2>/dev/null | cat >/dev/null || true
	for mode in "${MODES[@]}"; do
		for tool in ostree gostree; do
			bin=$OSTREE
			[[ $tool == gostree ]] && bin=$GOSTREE
			repo=$WORK/repo-$corpus-$mode-$tool
			rm -rf "$repo"
			read -r _ rc < <(timed "$corpus-$mode-$tool-init" "$bin" init --repo="$repo" --mode="$mode")
			if [[ $rc != 0 ]]; then
				rows+=("| $corpus | $n | $mode | $tool | init | FAILED (exit $rc, $LOGS/$corpus-$mode-$tool-init.err) | | |")
				failures=$((failures + 1))
				continue
			fi
			for run in fresh recommit; do
				name=$corpus-$mode-$tool-$run
				log "$name"
				read -r secs rc < <(timed "$name" "$bin" commit --repo="$repo" -b bench -s "bench $corpus" \
					--body="commit benchmark" --timestamp="$TS" --add-metadata-string=version=1.0 "$dir")
				if [[ $rc != 0 ]]; then
					rows+=("| $corpus | $n | $mode | $tool | $run | FAILED (exit $rc, $LOGS/$name.err) | | |")
					failures=$((failures + 1))
					continue
				fi
				sum=$(tr -d '[:space:]' <"$LOGS/$name.out")
				sums[$name]=$sum
				rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }')
				size=$(du -sh "$repo" | cut -f1)
				rows+=("| $corpus | $n | $mode | $tool | $run | $secs | $rate | ${sum:0:12} ($size) |")
			done
		done
		for run in fresh recommit; do
			o=${sums[$corpus-$mode-ostree-$run]:-}
			g=${sums[$corpus-$mode-gostree-$run]:-}
			if [[ -n "$o" && -n "$g" && "$o" != "$g" ]]; then
				rows+=("| $corpus | $n | $mode | WARNING | $run | checksums differ: ostree $o, gostree $g | | |")
				echo "WARNING: $corpus $mode $run: ostree $o != gostree $g" >&2
			fi
		done
	done
done

echo "## Commit benchmark: ostree $("$OSTREE" --version | awk -F"'" '/Version/ {print $2}') vs gostree"
echo
echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r), work dir $WORK ($(df -T "$WORK" | awk 'NR == 2 {print $2}'))."
echo "usr = $USR_CORPUS committed in place; generated = $NGEN small files (objtest.MakeTree, seed 1)."
echo "Warm page cache; \"recommit\" = same unchanged tree into the same repo (parent = fresh commit)."
echo
echo "| corpus | files | mode | tool | run | seconds | files/s | commit (repo size) |"
echo "|---|---:|---|---|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
for run in fresh recommit; do
	for corpus in usr generated; do
		for mode in "${MODES[@]}"; do
			o=${sums[$corpus-$mode-ostree-$run]:-}
			g=${sums[$corpus-$mode-gostree-$run]:-}
			if [[ -n "$o" && -n "$g" && "$o" != "$g" ]]; then
				echo
				echo "WARNING: $corpus/$mode/$run: commit checksums differ (ostree $o, gostree $g)"
			fi
		done
	done
done
if ((failures > 0)); then
	echo
	echo "$failures command(s) failed; logs in $LOGS"
	exit 1
fi
