// Package objstore reads and writes OSTree repositories, byte-compatibly with
// libostree: the same objects, the same checksums, the same layout, so the
// `ostree` command works on repositories gostree writes and the other way
// round.
//
// # Layout
//
//	REPO/
//	  config                      GKeyFile: [core] repo_version=1, mode=...
//	  objects/XX/YYYY....commit   commit object (GVariant (a{sv}aya(say)sstayay))
//	  objects/XX/YYYY....dirtree  directory listing (a(say)a(sayay))
//	  objects/XX/YYYY....dirmeta  directory metadata (uuua(ayay))
//	  objects/XX/YYYY....file     content object (bare modes; .filez in archive)
//	  objects/XX/YYYY....commitmeta  detached metadata of a commit
//	  refs/heads/BRANCH           "CHECKSUM\n"
//	  refs/remotes/REMOTE/BRANCH
//	  state/CHECKSUM.commitpartial  a commit whose objects are not all present
//	  tmp/staging-gostree-*/      objects of an open transaction
//	  tmp/cache/gostree-statcache-*  stat cache for fast re-commits (optional)
//	  tmp/cache/summaries/REMOTE  cached summaries of remotes
//	  summary, summary.sig        the ref list for clients (summary -u)
//	  extensions/gostree/verity.log  fs-verity digests of bare object files
//	  .lock                       flock: shared for writers, exclusive for deletes
//
// Remotes are [remote "NAME"] groups of config, as ostree writes them.
//
// Content checksums are SHA-256 over a length-prefixed header (uid, gid,
// mode, symlink target, sorted xattrs; integers big-endian) followed by the
// file data, independent of the repository mode. Metadata objects are stored
// as normal-form GVariants and named by the SHA-256 of their bytes.
//
// # Invariants
//
//   - An object under objects/ is complete and synced: writes are staged in a
//     Transaction and published only after a syncfs, content before the
//     dirtrees and commits that name it.
//   - A ref only ever points at a commit whose object is present; refs are
//     replaced atomically (temporary file, fsync, rename, fsync directory).
//   - Everything read is verified before use: metadata objects against their
//     names and GVariant normal form; content by VerifyContent or Fsck.
//     Objects from elsewhere (pull) go through Transaction.Import*, which
//     verifies them completely before they are staged.
//   - Names in dirtrees are validated (no "", ".", "..", "/", NUL, invalid
//     UTF-8), and Checkout writes only through O_NOFOLLOW directory
//     descriptors below its destination.
//
// # Concurrency
//
// A Repo is safe for concurrent use. A Transaction's write methods may be
// called from many goroutines; Commit and Abort end it. Several processes
// (gostree or ostree) may write the same repository at once: objects are
// content-addressed and published with rename without replacing, refs last.
package objstore
