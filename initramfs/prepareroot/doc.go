// Package prepareroot makes a gostree (or ostree) deployment the root
// filesystem at boot: ostree-prepare-root for composefs deployments, plus
// the little an initramfs /init must do before it. It links only the
// standard library, golang.org/x/sys, gvariant and fsverity, so the helper
// built from it is small and static.
//
// # Two ways to run
//
//   - As a step (Prepare; `gostree-mount prepare-root [SYSROOT]`), inside
//     an initramfs that has mounted the physical root at /sysroot, as
//     dracut and systemd run ostree-prepare-root. Afterwards /sysroot is
//     the deployment and the physical root is at /sysroot/sysroot.
//   - As /init (Init; the -tags initramfs build of gostree-mount run as
//     PID 1): mount /dev, /proc, /sys, /run; load the modules of
//     ModuleListPath with finit_module (compressed modules are
//     decompressed by the kernel); wait for root= (/dev/NAME, UUID= or
//     LABEL= of ext4); mount it at /sysroot (rw, ro, rootfstype=,
//     rootflags=); Prepare; move /dev, /proc, /sys, /run into the new root,
//     free the initramfs, switch root and exec init= (default /sbin/init).
//
// # What Prepare does
//
//	ostree=/ostree/boot.B/OS/BOOTCSUM/N     symlink in the sysroot, resolved
//	  -> ostree/deploy/OS/deploy/COMMIT.SERIAL   inside it (no escape)
//	     .ostree.cfs                         composefs image (EROFS)
//	     etc/                                bind-mounted on /etc
//	ostree/deploy/OS/var                     bind-mounted on /var (MountVar)
//	ostree/repo/objects                      the overlay's data-only layer
//	ostree/repo/objects/CO/MMIT.commit       read for ostree.composefs.digest.v0
//	boot/                                    bind-mounted on /boot
//	/run/ostree-booted                       a{sv}: composefs, verity, ...
//
// The composefs mode comes from prepare-root.conf ([composefs] enabled =
// yes|no|maybe|verity|signed, read from the initramfs) and the karg
// ostree.prepare-root.composefs. The mount is
// `overlay ro,metacopy=on,redirect_dir=on,lowerdir=EROFS::OBJECTS[,verity=require]`
// with the EROFS image mounted from the file (Linux ≥ 6.12) or a loop
// device, then detached.
//
// # Invariants
//
//   - The commit object's SHA-256 must be its name, and when the commit
//     records ostree.composefs.digest.v0 the image must have that fs-verity
//     digest (kernel measurement, else computed): a mismatch is refused
//     (ErrImageMismatch) in every mode.
//   - verity and signed never mount without verity=require, and refuse an
//     image they cannot verify (ErrUnverified); signed also requires an
//     ed25519 signature (ostree.sign.ed25519 in .commitmeta) by a key of
//     [composefs] keypath.
//   - On error Prepare undoes its mounts, so the physical root stays at
//     the sysroot; errors name the file or step that failed. With CheckInit
//     the init is read in full first, so an object failing fs-verity is
//     reported by name before switching root. Init does not read it: its
//     exec opens the init through the verified mount, and a failed exec
//     is reported with the kernel's overlayfs and fs-verity messages.
//
// # Concurrency
//
// Prepare and Init change the process's mount namespace and are meant to
// run once, alone.
package prepareroot
