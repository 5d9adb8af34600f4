#!/bin/sh
# /sbin/init of the busybox OS that scripts/boot-test.sh deploys and boots.
# It prints the marker of the deployment it runs from and the root mount,
# runs the action named by gostree.test= on the kernel command line, and
# powers off. Lines starting GOSTREE- are what the test looks for.
export PATH=/usr/bin:/usr/sbin
cmdline=" $(cat /proc/cmdline) "
arg() { echo "$cmdline" | sed -n "s/.* $1=\([^ ]*\) .*/\1/p"; }

echo "GOSTREE-TEST: init started at uptime $(cut -d' ' -f1 /proc/uptime) s"
if m=$(cat /usr/share/gostree-test/marker); then
	echo "GOSTREE-MARKER: $m"
else
	echo "GOSTREE-TEST-READ-FAILED: /usr/share/gostree-test/marker"
fi
echo "GOSTREE-ROOT-MOUNT: $(grep ' / ' /proc/mounts)"

rw() { mount -o remount,rw /sysroot; }
action=$(arg gostree.test)
status=ok
case "$action" in
"") ;;
enable-verity)
	rw
	n=0
	for f in /sysroot/ostree/repo/objects/*/*.file /sysroot/ostree/deploy/*/deploy/*/.ostree.cfs; do
		[ -L "$f" ] && continue
		if gostree fsverity enable "$f"; then n=$((n + 1)); else status=failed; fi
	done
	echo "GOSTREE-TEST: enabled fs-verity on $n files"
	;;
upgrade)
	rw
	gostree admin upgrade --sysroot=/sysroot || status=failed
	;;
rollback)
	rw
	gostree admin rollback --sysroot=/sysroot || status=failed
	;;
swap-image)
	# Replace the image of deployment .to with the one of .from: a
	# deployment whose image does not match its commit.
	rw
	from=$(ls -d /sysroot/ostree/deploy/*/deploy/"$(arg gostree.test.from)".0)
	to=$(ls -d /sysroot/ostree/deploy/*/deploy/"$(arg gostree.test.to)".0)
	{ rm -f "$to/.ostree.cfs" && cp "$from/.ostree.cfs" "$to/.ostree.cfs"; } || status=failed
	;;
*)
	echo "GOSTREE-TEST: unknown action $action"
	status=failed
	;;
esac
# A clean file system, so the next boot does not replay the journal.
mount -o remount,ro /sysroot 2>/dev/null
sync
echo "GOSTREE-TEST-DONE: ${action:-none} $status"
poweroff -f
