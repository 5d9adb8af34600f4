// Package initramfs builds the initramfs that boots a gostree deployment:
// a reproducible newc cpio archive with the prepare-root helper as /init.
//
// # What the archive holds
//
//	init                                   the helper: cmd/gostree-mount built
//	                                       CGO_ENABLED=0 -tags initramfs
//	dev/console                            c 5 1, so /init has fds 0-2
//	dev proc sys run sysroot tmp etc       mountpoints /init uses
//	usr/lib/gostree/initramfs.modules      modules to load, one path a line,
//	                                       dependencies first
//	usr/lib/modules/KVER/kernel/...        those modules, as shipped (.ko.xz:
//	                                       the kernel decompresses them) or,
//	                                       with DecompressModules, as .ko
//	usr/lib/ostree/prepare-root.conf       optional ([composefs] enabled = ...)
//	...                                    extra files (Options.Files)
//
// At boot the helper (package initramfs/prepareroot) mounts /dev, /proc,
// /sys and /run, loads the listed modules with finit_module, waits for
// root=, mounts it at /sysroot, mounts the deployment named by ostree= as
// a composefs (EROFS image + overlayfs over the repository's objects,
// verity=require when configured), and switches root into it.
//
// # Modules
//
// Requested modules are resolved from depmod's files in the kernel's
// module directory: modules.dep (each module after everything it needs,
// in modprobe's order), modules.softdep ("pre:" soft dependencies such as
// ext4's crypto-crc32c, which an initramfs without modprobe must load
// itself), modules.alias (for those) and modules.builtin (requests for
// built-in modules are satisfied). Nil Options.Modules means
// DefaultModules.
//
// # Invariants
//
//   - Same inputs, same bytes: entries sorted by path component, uid/gid 0,
//     mtime 0, inode numbers in order; gzip and zstd output is stable for a
//     given klauspost/compress version.
//   - No privileges needed: device nodes and ownership exist only in the
//     archive.
//   - The helper must be a static ELF built with -tags initramfs; Build
//     refuses anything else, since the untagged gostree-mount links FUSE
//     and the object store.
//   - This package may use klauspost/compress; the helper must not (see
//     TestHelperDependencies): the helper links only the standard library,
//     golang.org/x/sys, gvariant, fsverity and initramfs/prepareroot.
//
// # Concurrency
//
// Build has no shared state; concurrent calls are safe.
package initramfs
