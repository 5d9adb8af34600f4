// Package fusefs serves OSTree commits, a whole repository, or any fs.FS as
// a read-only FUSE file system, with go-fuse (github.com/hanwen/go-fuse/v2).
//
// This is how developers browse commits without a checkout, and how a
// machine without EROFS or overlayfs (or without root) mounts a deployment.
//
// # Layout
//
// One commit ([New] with a commit's fs.FS, or [NewTree]) shows its tree as a
// checkout would: same modes, owners, sizes, xattrs and symlink targets, and
// times at the epoch. The whole-repository mode ([NewRepo]) shows:
//
//	/refs/<ref>             symlink to ../commits/<checksum>; follows the ref as it moves
//	/refs/<remote>:<ref>    the same for remote refs ("/" in a ref name makes directories)
//	/commits/<checksum>/    the tree of any commit in the repository, found on first lookup
//	/commits/<prefix>       symlink to the full checksum (unique prefix of 4+ hex digits)
//
// # Lazy loading and memory
//
// Nothing is read at mount time beyond the root's dirmeta. Looking up a/b/c
// reads the dirtrees of /, a and a/b (each verified against its checksum),
// plus the header of c's content object; a directory's own dirtree is read
// when something inside it is looked up or listed. Nodes are built on lookup
// and forgotten when the kernel forgets them, so the process holds only what
// the kernel caches plus bounded caches: parsed dirtrees, dirmetas, content
// metadata, and idle opened objects (Options sets each bound).
//
// Inode numbers are stable: a file's is taken from its content checksum
// (identical objects are hard links, as in a checkout), a directory's from
// its parent's and its name.
//
// # Integrity
//
// With VerifyOn (the default) no unverified byte reaches a reader. The root
// of trust is the object id, from the verified chain commit → dirtree.
//
//   - Bare repositories, objects up to 256 KiB: read whole into memory and
//     checked once, against the fs-verity digest the repository recorded
//     when it wrote the object, or else against the content checksum.
//   - Bare repositories, bigger objects: read from the object file, every
//     block checked against the object's fs-verity Merkle tree on every
//     read, so a change to the file under a live mount is caught. The tree's
//     digest is the recorded one (the tree itself is built by reading the
//     file once, or taken from Options.TreeCacheDir and checked lazily), or
//     is bound to the object by checking its content checksum while the tree
//     is built.
//   - Where kernel fs-verity protects the object file with the expected
//     digest, the kernel checks instead.
//   - Archive repositories: objects are inflated once into memory or an
//     unlinked spill file and checked against their content checksum before
//     the first byte is served; reads of the copy are checked block-wise too.
//
// A mismatch is EIO for the reader and an Error log naming the path and the
// object. Dirtree, dirmeta and commit objects are verified by objstore as
// they are loaded.
//
// The metadata of a bare object (mode, owner, xattrs) is its object file's,
// and is checked only as part of the content checksum, when that path runs.
//
// VerifyOff serves object files as they are, for trusted disks.
//
// # Kernel caching
//
// Content never changes, so names, attributes and failed lookups are cached
// for a long time (Options.CacheTimeout), and directory listings are opened
// with FOPEN_CACHE_DIR. With verification on, files answer OPEN with ENOSYS:
// the kernel then never sends OPEN, RELEASE or FLUSH for the mount and keeps
// every file's page cache (as FOPEN_KEEP_CACHE would), so reading a cached
// file costs no request. With VerifyOff, opens are real and use FUSE
// passthrough where the kernel and privileges allow (falling back silently).
// Refs are the exception to long caching: their names and targets are
// re-read as Options.RefTimeout says.
//
// # Concurrency
//
// Every method and every FUSE operation is safe for concurrent use; go-fuse
// serves requests on many goroutines. An object opened by several readers at
// once is prepared once and shared.
//
// # Life cycle
//
// [FS.Mount] mounts (mount(2) as root, fusermount3 otherwise) and returns
// once the kernel has the mount; [Server.Serve] unmounts when its context
// ends, detaching lazily if files are still open. [SpawnDaemon] and
// [DaemonReady] let a command return only once its background mount is ready.
package fusefs
