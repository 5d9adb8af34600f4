// Package deploy manages a bootable sysroot the way `ostree admin` does,
// with ostree's on-disk layout, except that a deployment is a composefs
// image plus its own /etc instead of a hardlink checkout.
//
// # Layout
//
//	SYSROOT/
//	  ostree/repo/                             the system repository (bare)
//	  ostree/deploy/OS/var/                    shared /var of stateroot OS
//	  ostree/deploy/OS/deploy/COMMIT.SERIAL/   one deployment:
//	      .ostree.cfs                          composefs image of the commit
//	      etc/                                 the deployment's /etc (merged)
//	  ostree/deploy/OS/deploy/COMMIT.SERIAL.origin   keyfile: [origin] refspec=
//	  ostree/boot.B -> boot.B.S                B = bootversion, S = subbootversion
//	  ostree/boot.B.S/OS/BOOTCSUM/N -> ../../../deploy/OS/deploy/COMMIT.SERIAL
//	  boot/loader -> loader.B                  swapped atomically
//	  boot/loader.B/entries/ostree-N-OS.conf   BLS entries
//	  boot/ostree/OS-BOOTCSUM/vmlinuz-KVER, initramfs-KVER.img
//	  ostree/repo/refs/heads/ostree/B/S/I      pins each deployment's commit
//
// # Crash safety
//
// A new boot configuration is built beside the current one (the other
// bootversion), made durable with syncfs, and switched to by one rename of
// boot/loader. Until that rename the previous configuration is complete and
// is what boots; after it, leftovers of the old one are removed, and a rerun
// removes them if the process died first. New deployment directories and
// kernel directories are built under temporary names and renamed into place.
//
// # Concurrency
//
// Operations on one Sysroot take an exclusive lock (ostree/lock); a Sysroot
// value is not safe for concurrent use.
package deploy
