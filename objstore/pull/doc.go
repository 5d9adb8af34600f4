// Package pull fetches commits from remote OSTree repositories into a local
// objstore.Repo: over HTTP from archive repositories served by any static
// web server (Pull), or from another repository on this machine
// (PullLocal, and remotes with file:// URLs). It also has the other side, a
// small static file server for development and tests (FileServer, Serve).
// It is the only library package that links net/http, so the boot helper,
// which never pulls, does not carry it.
//
// # Protocol
//
// A remote is a plain directory tree served read-only; nothing runs on the
// server. A pull asks, in order:
//
//	summary                       refs and their commits, the repository mode
//	                              (404 allowed: then each ref is fetched)
//	config                        the mode, when there is no summary
//	refs/heads/REF                one per ref, only without a summary
//	objects/XX/REST.commitmeta    detached metadata (404 allowed)
//	objects/XX/REST.commit        then, for commits that are new or partial,
//	objects/XX/REST.dirtree       the whole tree's dirtrees and dirmetas,
//	objects/XX/REST.dirmeta       skipping those the repository has
//	objects/XX/REST.filez         finally, the content objects it lacks
//
// config, summary, refs and commitmeta come from the remote's url,
// everything else under objects/ from its contenturl when it has one.
// Static deltas are not used (ostree does not use them for archive
// repositories either). The summary is cached in
// tmp/cache/summaries/REMOTE and revalidated with If-Modified-Since and
// If-None-Match.
//
// # Remote configuration
//
// Pull reads the remote from the repository config ([remote "NAME"], see
// objstore.Remote) and honours url, contenturl, branches, collection-id
// (binding checks), proxy, tls-permissive, tls-ca-path and
// tls-client-cert-path/tls-client-key-path. sign-verify and
// sign-verify-summary (true or ed25519) require an Ed25519 signature
// (ostree.sign.ed25519 in the detached metadata, or summary.sig) by a key
// from verification-ed25519-key, verification-ed25519-file or the trust
// directories (trusted.ed25519{,.d/*} minus revoked.ed25519{,.d/*}); an
// unsigned or badly signed commit is never stored. gpg-verify (true unless
// set to false) and gpg-verify-summary likewise require an OpenPGP
// signature (ostree.gpgsigs) by a key of REPO/REMOTE.trustedkeys.gpg, the
// remote's gpg-keypath or /usr/share/ostree/trusted.gpg.d (package
// gpgverify); a remote that requires them and has no keys is refused.
// metalink and mirrorlist URLs are not supported.
//
// # Invariants
//
//   - Every object is verified before it is stored: metadata must hash to
//     its name, be normal-form GVariant and pass the objstore decoders;
//     content objects are inflated and hashed with their header, must
//     inflate to exactly their recorded size and have no trailing bytes.
//     A corrupt object is never staged (objstore.Transaction.Import*).
//   - state/COMMIT.commitpartial is written durably before a commit object
//     can become visible, and removed only after the whole commit is
//     stored (never after --subpath or --commit-metadata-only pulls).
//   - A ref moves only after every object of its commit is committed and
//     synced (refs are the last step of the final transaction).
//   - Verified objects are committed every CheckpointObjects objects or
//     CheckpointInterval per worker, and whenever a pull stops early, so a
//     pull run again fetches only what is missing.
//   - Commits named through a ref must list it in ostree.ref-binding when
//     they have one; signatures the remote demands are checked before a
//     commit is stored, and remotes demanding GPG are refused rather than
//     pulled unverified.
//
// # Failures
//
// Network errors, bodies cut short, 5xx answers and servers that send
// nothing for Timeout are retried Retries times with exponential back-off
// and jitter, then reported as *TransportError or *HTTPError. A 404 is an
// *HTTPError matching fs.ErrNotExist. Bad data is reported as
// *objstore.DigestMismatchError or wraps objstore.ErrInvalidObject, and is
// not retried. In every case the repository stays consistent: objects
// under objects/ are whole and verified, refs point to complete commits.
//
// # Concurrency
//
// Metadata requests run Jobs at a time while the trees are walked; content
// objects are fetched by Jobs workers, each writing through its own
// objstore.Transaction. Options.Progress is called from one goroutine at a
// time. A Pull holds no state after it returns.
package pull
