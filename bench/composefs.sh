#!/usr/bin/env bash
# bench/composefs.sh: on one ~100k-file commit, in one run: `ostree checkout`
# (the hardlink farm ostree deployments are), `gostree checkout --composefs`
# plus a kernel composefs mount, and `mkfs.erofs` of the same tree. Root.
#
# Usage: bench/composefs.sh [WORKDIR]   (NFILES=N changes the file count)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d -t gostree-cfs-bench.XXXXXX)}
NFILES=${NFILES:-100000}
mkdir -p "$WORK"
cd "$WORK"
(cd "$ROOT" && go build -o "$WORK/gostree" ./cmd/gostree && go build -o "$WORK/gostree-mount" ./cmd/gostree-mount)
G=$WORK/gostree
if [[ ! -d tree ]]; then
	mkdir -p tree
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
rm -rf repo co img.cfs img2.cfs erofs.img mnt
"$G" init --repo=repo --mode=bare-user
id=$("$G" commit --repo=repo -b b --tree=dir=tree --timestamp=@1577836800)
mkdir mnt
sync
TIMEFORMAT=%R
t_co=$( { time ostree --repo=repo checkout -U "$id" co >/dev/null; } 2>&1 )
t_img=$( { time "$G" --repo=repo checkout --composefs "$id" img.cfs >/dev/null; } 2>&1 )
t_both=$( { time "./gostree-mount" --composefs --repo=repo "$id" mnt >/dev/null; } 2>&1 )
files=$(find mnt -type f | wc -l)
"./gostree-mount" --composefs --unmount mnt >/dev/null 2>&1 || umount mnt || true
t_mkfs=$( { time mkfs.erofs erofs.img tree >/dev/null 2>&1; } 2>&1 )
echo "| step ($NFILES files, bare-user repo) | seconds |"
echo "| --- | ---: |"
echo "| ostree checkout -U (hardlink farm) | $t_co |"
echo "| gostree checkout --composefs (image only) | $t_img |"
echo "| gostree-mount --composefs (writes the image, mounts EROFS + overlay) | $t_both |"
echo "| mkfs.erofs of the tree (full EROFS with data) | $t_mkfs |"
echo "files visible in the composefs mount: $files"
python3 -c "print('image+mount vs hardlink checkout: %.1fx' % ($t_co / $t_both))"
rm -rf co
