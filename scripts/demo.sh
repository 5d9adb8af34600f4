#!/usr/bin/env bash
# The main job, end to end on a built-in sample tree: create a repository,
# commit a tree, show the log, list and read the commit, check it out, fsck.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GOSTREE:-$PWD/bin/gostree}
work=$(mktemp -d /tmp/gostree-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

tree=$work/tree
mkdir -p "$tree/usr/bin" "$tree/usr/lib/os-release.d" "$tree/etc" "$tree/var/empty"
printf '#!/bin/sh\necho hello from gostree\n' > "$tree/usr/bin/hello"
chmod 0755 "$tree/usr/bin/hello"
printf 'NAME=gostree-demo\nVERSION_ID=1\n' > "$tree/usr/lib/os-release"
ln -s ../usr/lib/os-release "$tree/etc/os-release"
printf 'caf\xc3\xa9\n' > "$tree/usr/lib/os-release.d/café"
head -c 100000 /dev/zero > "$tree/usr/lib/zeros"
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
run "$G" --repo="$work/repo" checkout -U demo/main "$work/checkout"
run ls -l "$work/checkout/usr/bin"
run "$G" --repo="$work/repo" fsck
if command -v ostree >/dev/null; then
  run ostree --repo="$work/repo" fsck
fi
