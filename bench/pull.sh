#!/usr/bin/env bash
# bench/pull.sh: compare `ostree pull` and `gostree pull` from the same nginx, same repo, in one run.
#
# Usage: bench/pull.sh [WORKDIR]
#
#   WORKDIR          binaries, the generated tree, repos and logs (default: a new temp dir, kept)
#   CORPUS_SMALL=1   dry run: 5,000 generated files instead of 100,000
#   NGEN=N           number of generated files (overrides CORPUS_SMALL)
#   MODES="..."      destination modes (default: bare-user archive)
#   GOSTREE=PATH     use this binary instead of building ./cmd/gostree
#   OSTREE=PATH      ostree binary (default: from PATH)
#   NGINX=PATH       nginx binary (default: from PATH or /usr/sbin/nginx)
#
# The source is an archive repository made by ostree from a tree of many small files
# (objtest.MakeTree, as bench/commit.sh generates it), with a summary, served by nginx on
# 127.0.0.1. For each destination mode and tool: a pull into a fresh repository ("full"), then,
# after 1% of the files change and the source gets a new commit, a pull of that commit into the
# same repository ("1% change"). nginx's access log gives requests and bytes sent per run. Both
# results are fscked afterwards (not timed). Output: a markdown table on stdout, progress on
# stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d -t gostree-pull-bench.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
LOGS=$WORK/logs
mkdir -p "$LOGS"
OSTREE=${OSTREE:-$(command -v ostree || true)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
read -r -a MODES <<<"${MODES:-bare-user archive}"
failures=0

log() { printf '%s\n' "$*" >&2; }

[[ -n "$OSTREE" ]] || { log "ostree not found (apt-get install ostree)"; exit 1; }
[[ -x "$NGINX" ]] || { log "nginx not found (apt-get install nginx)"; exit 1; }

if [[ -z "${GOSTREE:-}" ]]; then
	log "building gostree"
	(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree)
	GOSTREE=$WORK/gostree
fi

if [[ -z "${NGEN:-}" ]]; then
	NGEN=100000
	[[ "${CORPUS_SMALL:-}" == 1 ]] && NGEN=5000
fi

# The corpus: objtest.MakeTree with ManyFiles=NGEN, built in a throwaway module holding a copy of
# objstore/objtest/tree.go (std + x/sys only).
GEN=$WORK/generated-$NGEN
if [[ ! -d "$GEN" ]]; then
	log "generating $NGEN files in $GEN"
	gendir=$WORK/gentree-src
	rm -rf "$gendir"
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
	if _, err := objtest.MakeTree(os.Args[1], objtest.TreeOptions{ManyFiles: n, Seed: 1}); err != nil {
		panic(err)
	}
}
EOF
	cp "$ROOT/go.sum" "$gendir/go.sum"
	(cd "$gendir" && GOFLAGS=-mod=mod go run . "$GEN.tmp" "$NGEN") || { rm -rf "$GEN.tmp"; exit 1; }
	mv "$GEN.tmp" "$GEN"
fi

SRC=$WORK/src
rm -rf "$SRC"
log "source repository: ostree commit of $GEN"
"$OSTREE" --repo="$SRC" init --mode=archive
"$OSTREE" --repo="$SRC" commit -b main --tree=dir="$GEN" --timestamp=2020-01-01T00:00:00Z -s base >/dev/null
"$OSTREE" --repo="$SRC" summary -u
nobjects=$(find "$SRC/objects" -type f | wc -l)

# nginx on a free loopback port, with a log of bytes sent per request.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NG=$WORK/nginx
rm -rf "$NG"
mkdir -p "$NG"
user=""
[[ $(id -u) == 0 ]] && user="user root;"
cat >"$NG/nginx.conf" <<EOF
daemon off;
worker_processes 2;
$user
pid $NG/nginx.pid;
error_log $NG/error.log;
events { worker_connections 1024; }
http {
	log_format bench '\$request_uri \$status \$bytes_sent';
	access_log $NG/access.log bench;
	client_body_temp_path $NG/body;
	proxy_temp_path $NG/proxy;
	fastcgi_temp_path $NG/fastcgi;
	uwsgi_temp_path $NG/uwsgi;
	scgi_temp_path $NG/scgi;
	default_type application/octet-stream;
	sendfile on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$PORT;
		root $SRC;
	}
}
EOF
"$NGINX" -p "$NG" -c "$NG/nginx.conf" &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done
URL=http://127.0.0.1:$PORT

# timed NAME CMD...: runs CMD; prints "SECONDS EXIT REQUESTS BYTES CPU" (requests and bytes from
# the access log, CPU = user + system seconds of CMD).
timed() {
	local name=$1
	shift
	local start end rc=0 before
	before=$(wc -l <"$NG/access.log" 2>/dev/null || echo 0)
	sync
	start=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$LOGS/$name.time" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
	end=$(date +%s.%N)
	sleep 0.2 # let nginx finish its log lines
	tail -n +"$((before + 1))" "$NG/access.log" >"$LOGS/$name.access"
	printf '%s %s %s %s %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')" "$rc" \
		"$(wc -l <"$LOGS/$name.access")" "$(awk '{ s += $3 } END { print s + 0 }' "$LOGS/$name.access")" \
		"$(awk 'END { printf "%.2f", $1 + $2 }' "$LOGS/$name.time")"
}

rows=()
declare -A secs
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run_pull() { # TOOL MODE RUN
	local tool=$1 mode=$2 run=$3 repo=$WORK/dst-$2-$1 name=$2-$1-$3 bin=$OSTREE
	[[ $tool == gostree ]] && bin=$GOSTREE
	log "$name"
	read -r s rc n bytes cpu < <(timed "$name" "$bin" --repo="$repo" pull origin main)
	if [[ $rc != 0 ]]; then
		rows+=("| $mode | $tool | $run | FAILED (exit $rc, $LOGS/$name.err) | | | | |")
		failures=$((failures + 1))
		return
	fi
	secs[$name]=$s
	local fsck=ok
	"$bin" --repo="$repo" fsck >"$LOGS/$name.fsck" 2>&1 || { fsck="FSCK FAILED"; failures=$((failures + 1)); }
	rows+=("| $mode | $tool | $run | $s | $cpu | $n | $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') | $fsck |")
}

for mode in "${MODES[@]}"; do
	for tool in ostree gostree; do
		repo=$WORK/dst-$mode-$tool
		rm -rf "$repo"
		"$OSTREE" --repo="$repo" init --mode="$mode"
		"$OSTREE" --repo="$repo" remote add --no-gpg-verify origin "$URL"
		run_pull "$tool" "$mode" full
	done
done

log "changing 1% of the files and committing again"
changed=$(find "$GEN/many" -type f | sort | awk -v n="$NGEN" 'NR % 100 == 0' | wc -l)
find "$GEN/many" -type f | sort | awk 'NR % 100 == 0' | while read -r f; do echo "changed $f" >>"$f"; done
"$OSTREE" --repo="$SRC" commit -b main --tree=dir="$GEN" --timestamp=2020-01-02T00:00:00Z -s change >/dev/null
"$OSTREE" --repo="$SRC" summary -u

for mode in "${MODES[@]}"; do
	for tool in ostree gostree; do
		run_pull "$tool" "$mode" "1% change"
	done
done

echo "## Pull benchmark: ostree $("$OSTREE" --version | awk -F"'" '/Version/ {print $2}') vs gostree, one nginx"
echo
echo "$(date -u +%F), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -r), $(go version | awk '{print $3}'), nginx $("$NGINX" -v 2>&1 | awk -F/ '{print $2}'); work dir $WORK ($(df -T "$WORK" | awk 'NR == 2 {print $2}'))."
echo "Source: archive repo made by ostree from $NGEN generated files (objtest.MakeTree seed 1; $nobjects objects), served by nginx on 127.0.0.1."
echo "\"1% change\": $changed files changed, new commit, same destination repos. Bytes = nginx \$bytes_sent (headers included)."
echo
echo "Load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: wall times vary, CPU seconds less)."
echo
echo "| dest mode | tool | run | seconds | CPU s | requests | MiB sent | fsck |"
echo "|---|---|---|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo
for mode in "${MODES[@]}"; do
	for run in full "1% change"; do
		o=${secs[$mode-ostree-$run]:-}
		g=${secs[$mode-gostree-$run]:-}
		[[ -n "$o" && -n "$g" ]] && echo "- $mode, $run: gostree $(awk -v o="$o" -v g="$g" 'BEGIN { printf "%.2f", o / g }')× the speed of ostree"
	done
done
if ((failures > 0)); then
	echo
	echo "$failures command(s) failed; logs in $LOGS"
	exit 1
fi
