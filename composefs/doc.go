// Package composefs writes, reads and mounts composefs images: EROFS
// filesystems that hold only metadata, whose regular files redirect through
// overlayfs "metacopy" into a directory of data files (a bare repository's
// objects), optionally checked with fs-verity.
//
// # What
//
// Write turns any fs.FS into an image, byte for byte what libcomposefs's
// mkcomposefs writes for the same tree in format version 0 (raised to 1 only
// for whiteouts, as ostree asks with max_version 1). WriteCommit applies
// ostree's mapping of a commit (ostree-repo-composefs.c): every file its own
// inode with mtime 0 and link count 1, regular files redirected to
// "ab/cdef….file" with the object's fs-verity digest, and the directories
// usr, etc, boot, var and sysroot added when missing. The fs-verity digest of
// that image is the commit's composefs digest, ostree.composefs.digest.v0
// (DigestKey). WriteFromDump does the same from a composefs dump file
// (mkcomposefs --from-file). Walk, Dump and List read an image back the way
// libcomposefs does (composefs-info dump / ls). Mount and MountCommit mount
// an image read-only; Unmount undoes it.
//
// # On-disk layout
//
// All integers little-endian; blocks are 4096 bytes; nid = offset/32.
//
//	0      composefs header (32 bytes): magic 0xd078629a, version 1,
//	       flags (1 = has POSIX ACLs), composefs_version (0 or 1); zeros to 1024
//	1024   EROFS superblock (128 bytes): magic 0xE0F5E1E2, feature_compat
//	       MTIME|XATTR_FILTER, blkszbits 12, root_nid, inode count, build
//	       time = the smallest mtime, block count, xattr_blkaddr
//	1152   inodes in breadth-first order, 32-byte aligned, each:
//	         compact (32 B, when mtime = build time and ids/nlink/size fit)
//	         or extended (64 B) inode
//	         xattr header (name filter, shared count), shared xattr ids,
//	         inline xattrs
//	         tail: directory entries, symlink target, inline file data, or
//	         an external file's chunk table (one 0xFFFFFFFF "hole" per chunk)
//	       padding keeps every tail inside one block
//	…      shared xattr table (pairs used more than once), then zeros to a block
//	…      data blocks in inode order: full directory blocks, the rare
//	       symlink target or chunk table that did not fit inline
//
//	root/   trusted.overlay.opaque=y; 00 … ff are whiteouts (char 0/0),
//	        hiding the object store's fan-out directories
//	file    trusted.overlay.metacopy = 00 24 00 01 ‖ fs-verity digest
//	        (empty when unknown), trusted.overlay.redirect = "/ab/cdef….file"
//	xattrs  trusted.overlay.X of the tree are stored as
//	        trusted.overlay.overlay.X, which overlayfs shows as trusted.overlay.X
//
// A mount is EROFS (from the file, or a loop device on kernels before 6.12)
// plus overlayfs with metacopy=on, redirect_dir=on and
// lowerdir=EROFS::OBJECTS, OBJECTS being a data-only layer (Linux ≥ 6.5),
// and verity=on|require (≥ 6.6) when asked. The EROFS mount is detached
// once the overlay holds it, so only the overlay mount is visible.
//
// # Invariants
//
//   - Deterministic: the same tree and options give the same bytes. The
//     layout follows libcomposefs exactly, including its quirks (descending
//     shared-xattr order, the symlink padding rule, chunk formats overwriting
//     block addresses); tests pin it with libcomposefs's and ostree's own
//     vectors (testdata/upstream, ostree test-composefs.sh).
//   - Memory grows with the number of inodes (a few hundred bytes each),
//     never with file sizes: Write reads no file data; only WriteCommit reads
//     objects, to compute fs-verity digests that were not recorded.
//   - What an image cannot hold is refused at write time with the path:
//     names that are empty, "." or "..", contain '/' or NUL or exceed 255
//     bytes; xattr names over 255 bytes, values over 64 KiB, more than 32 KiB
//     of xattrs on one inode; payloads and symlink targets of 4096 bytes or
//     more; files too large for a 1024-entry chunk table.
//   - The reader never panics and never reads outside the image: every
//     offset is bounds-checked, directories reached twice become hardlink
//     entries (so cycles end), nesting is capped.
//
// # Concurrency
//
// Functions are safe to call concurrently on different outputs. Write reads
// the tree and calls Options.File on the caller's goroutine; the image is
// handed to the io.Writer from a helper goroutine (one Write call at a
// time, all of them before Write returns), so that laying out the image
// overlaps with writing it. WriteCommit reads the tree and looks up object
// digests on CommitOptions.Jobs goroutines. The package has no mutable
// global state.
package composefs
