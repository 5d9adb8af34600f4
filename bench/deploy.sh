#!/usr/bin/env bash
# bench/deploy.sh: `ostree admin deploy` against `gostree admin deploy` of the
# same ~100k-file commit into sibling sysroots, in one run. Needs root.
#
# Usage: bench/deploy.sh [WORKDIR]     (NFILES=N changes the file count)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d -t gostree-deploy-bench.XXXXXX)}
NFILES=${NFILES:-100000}
mkdir -p "$WORK"
cd "$WORK"
(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree)
G=$WORK/gostree

if [[ ! -d tree ]]; then
	echo "generating $NFILES files" >&2
	mkdir -p tree/usr/lib/modules/6.1.0-bench tree/usr/etc tree/usr/share/data
	echo KERNEL > tree/usr/lib/modules/6.1.0-bench/vmlinuz
	echo INITRD > tree/usr/lib/modules/6.1.0-bench/initramfs.img
	printf 'PRETTY_NAME="Bench OS"\nID=bench\n' > tree/usr/lib/os-release
	echo conf > tree/usr/etc/conf
	python3 - "$NFILES" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = "tree/usr/share/data/%03d/%02d" % (i // 1000, (i // 50) % 20)
    os.makedirs(d, exist_ok=True)
    with open("%s/f%06d" % (d, i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
PY
fi

rm -rf o g
mkdir o
chattr -R -i o 2>/dev/null || true
ostree admin init-fs o >/dev/null
ostree admin os-init bench --sysroot=o >/dev/null
ostree commit --repo=o/ostree/repo -b bench/main --tree=dir=tree --timestamp=@1577836800 >/dev/null
"$G" admin init-fs g
"$G" admin --sysroot=g os-init bench >/dev/null
"$G" commit --repo=g/ostree/repo -b bench/main --tree=dir=tree --timestamp=@1577836800 >/dev/null

sync
TIMEFORMAT=%R
to=$( { time ostree admin deploy --sysroot=o --os=bench bench/main >/dev/null 2>&1; } 2>&1 )
tg=$( { time "$G" admin --sysroot=g deploy --os=bench bench/main >/dev/null; } 2>&1 )
echo "| tool | files | deploy wall time (s) |"
echo "| --- | --- | --- |"
echo "| ostree admin deploy | $NFILES | $to |"
echo "| gostree admin deploy | $NFILES | $tg |"
python3 -c "print('speed-up: %.1fx' % ($to / $tg))"
chattr -R -i o 2>/dev/null || true
