#!/usr/bin/env bash
# bench/fsverity.sh — fs-verity digest throughput of gostree's fsverity package
# against fsverity-utils (`fsverity digest`) and `openssl dgst -sha256`.
#
#   1. one 1 GiB file (page cache warm): gostree DigestFile, `fsverity digest`,
#      `openssl dgst -sha256`; interleaved, best of $RUNS wall-clock times;
#   2. every regular file under $TREE (/usr): gostree with $JOBS workers vs
#      `find $TREE -type f -print0 | xargs -0 -P$JOBS -n64 fsverity digest`,
#      and checks that both print the same digests.
#
# Prints a Markdown section for bench/RESULTS.md. Needs go, fsverity, openssl.
# Environment: SIZE_MIB (1024), RUNS (3), TREE (/usr), JOBS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
TREE=${TREE:-/usr}
JOBS=${JOBS:-2}
for tool in go fsverity openssl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "fsverity.sh: $tool not found" >&2; exit 1; }
done

load0=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/fsverity-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# A throwaway main that uses the package through a replace directive, so the
# repository gets no new cmd directory.
mkdir "$TMP/tool"
cat >"$TMP/tool/go.mod" <<EOF
module fsvbench

go 1.26

require github.com/gostree/gostree v0.0.0

replace github.com/gostree/gostree => $ROOT
EOF
cp "$ROOT/go.sum" "$TMP/tool/go.sum"
cat >"$TMP/tool/main.go" <<'EOF'
// fsvbench: `fsvbench FILE...` prints `sha256:<hex> FILE` like `fsverity digest`;
// `fsvbench -walk -j N DIR` does so for every regular file under DIR with N workers.
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gostree/gostree/fsverity"
)

func main() {
	walk := flag.Bool("walk", false, "digest every regular file under the directory arguments")
	jobs := flag.Int("j", 2, "parallel workers for -walk")
	flag.Parse()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var mu sync.Mutex
	failed := false
	digest := func(path string) {
		d, err := fsverity.DigestFile(path, nil)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			return
		}
		fmt.Fprintf(out, "sha256:%s %s\n", hex.EncodeToString(d), path)
	}
	if !*walk {
		for _, p := range flag.Args() {
			digest(p)
		}
	} else {
		paths := make(chan string, 256)
		var wg sync.WaitGroup
		for range *jobs {
			wg.Go(func() {
				for p := range paths {
					digest(p)
				}
			})
		}
		for _, dir := range flag.Args() {
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return nil
				}
				if d.Type().IsRegular() {
					paths <- p
				}
				return nil
			})
		}
		close(paths)
		wg.Wait()
	}
	if failed {
		out.Flush()
		os.Exit(1)
	}
}
EOF
(cd "$TMP/tool" && GOFLAGS=-mod=mod go build -o "$TMP/fsvbench" .)
GOSTREE=$TMP/fsvbench

# run W C COMMAND...: run once (output discarded) and keep the best wall-clock
# and CPU (user+sys, children included) milliseconds in variables W and C.
run() {
	local w=$1 c=$2
	shift 2
	/usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >/dev/null
	read -r e u s <"$TMP/time"
	best "$w" "$(awk -v e="$e" 'BEGIN { printf "%d", e * 1000 }')"
	best "$c" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')"
}
# best VAR MS: keep the minimum in VAR.
best() { if [[ -z ${!1:-} || $2 -lt ${!1} ]]; then printf -v "$1" '%s' "$2"; fi; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }'; }
mibs() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", b / 1048576 / (ms / 1000) }'; }

# 1. One big file (deterministic content: AES-CTR keystream).
BIG=$TMP/big
{ openssl enc -aes-128-ctr -pass pass:gostree -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } |
	head -c $((SIZE_MIB << 20)) >"$BIG"
cat "$BIG" >/dev/null
want=$(fsverity digest "$BIG")
got=$("$GOSTREE" "$BIG")
[[ $got == "$want" ]] || { echo "digest mismatch: gostree '$got' vs fsverity '$want'" >&2; exit 1; }
g='' f='' o='' gc='' fc='' oc=''
for _ in $(seq "$RUNS"); do
	run g gc "$GOSTREE" "$BIG"
	run f fc fsverity digest "$BIG"
	run o oc openssl dgst -sha256 "$BIG"
done

# 2. Every regular file under $TREE, $JOBS workers each.
nfiles=$(find "$TREE" -type f | wc -l)
nbytes=$(find "$TREE" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
find "$TREE" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
"$GOSTREE" -walk -j "$JOBS" "$TREE" | sort >"$TMP/ours"
# (sequential here: parallel fsverity processes interleave partial lines on one pipe)
find "$TREE" -type f -print0 | xargs -0 -n64 fsverity digest | sort >"$TMP/theirs"
if cmp -s "$TMP/ours" "$TMP/theirs"; then
	same="identical ($(wc -l <"$TMP/ours") lines)"
else
	same="DIFFERENT: $(diff "$TMP/ours" "$TMP/theirs" | grep -c '^[<>]' || true) lines differ"
fi
gw='' fw='' gwc='' fwc=''
for _ in $(seq "$RUNS"); do
	run gw gwc "$GOSTREE" -walk -j "$JOBS" "$TREE"
	run fw fwc sh -c 'find "$1" -type f -print0 | xargs -0 -P"$2" -n64 fsverity digest' sh "$TREE" "$JOBS"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
shani=$(grep -q sha_ni /proc/cpuinfo && echo "SHA-NI" || echo "no SHA-NI")
cat <<EOF
## fs-verity digest

$(date -u +%Y-%m-%d), $cpu ($(nproc) cores, $shani), $(uname -r), $(go version | cut -d' ' -f3),
$(fsverity --version | head -1), $(openssl version | cut -d' ' -f1-2).
Command: \`bench/fsverity.sh\` (SIZE_MIB=$SIZE_MIB RUNS=$RUNS TREE=$TREE JOBS=$JOBS); best of $RUNS
runs each, interleaved, page cache warm; wall = elapsed, CPU = user+sys. Load average before:
$load0; after: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the machine: trust CPU more than wall).

| $SIZE_MIB MiB file, one stream | wall ms | MiB/s | CPU ms | wall vs openssl | CPU vs openssl |
|---|---:|---:|---:|---:|---:|
| gostree \`fsverity.DigestFile\` (SHA-256/4K) | $g | $(mibs $((SIZE_MIB << 20)) "$g") | $gc | $(pct "$g" "$o") | $(pct "$gc" "$oc") |
| \`fsverity digest\` | $f | $(mibs $((SIZE_MIB << 20)) "$f") | $fc | $(pct "$f" "$o") | $(pct "$fc" "$oc") |
| \`openssl dgst -sha256\` (plain SHA-256, not fs-verity) | $o | $(mibs $((SIZE_MIB << 20)) "$o") | $oc | — | — |

| every regular file of $TREE ($nfiles files, $(awk -v b="$nbytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB), $JOBS workers | wall ms | MiB/s | CPU ms |
|---|---:|---:|---:|
| gostree \`DigestFile\`, $JOBS goroutines | $gw | $(mibs "$nbytes" "$gw") | $gwc |
| \`find $TREE -type f -print0 \| xargs -0 -P$JOBS -n64 fsverity digest\` | $fw | $(mibs "$nbytes" "$fw") | $fwc |

Digests of gostree and fsverity-utils over $TREE: $same.
EOF
