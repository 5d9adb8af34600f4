// Package fsverity computes Linux fs-verity file digests in pure Go, drives
// the kernel's fs-verity ioctls, and verifies reads block by block against a
// Merkle tree.
//
// # What
//
// fs-verity (Documentation/filesystems/fsverity.rst) gives a file a digest
// that the kernel checks lazily on every read. ostree and composefs name and
// check objects by the SHA-256, 4096-byte-block, unsalted digest (Digest).
// This package computes the same digest in user space (Sum, Hasher,
// DigestReader, DigestFile, equal to `fsverity digest`), asks the kernel to
// enable and measure it (Enable, Measure, IsEnabled; Linux only), and offers
// the same protection without kernel support (BuildTree, NewReaderAt).
//
// # Algorithm
//
// The data is cut into blocks of Params.BlockSize bytes, the last one
// zero-padded. Level 0 of the Merkle tree is the hash of each data block,
// concatenated and cut into blocks (the last zero-padded); each further level
// hashes the blocks of the one below, until a level is a single block. The
// root hash is the hash of that top block. A one-block file has no tree: its
// root hash is the hash of its only block; an empty file's root hash is all
// zeros. With a salt, every block hash (data and tree) is of the salt,
// zero-padded to the hash function's block size (64 bytes for SHA-256, 128
// for SHA-512), followed by the block. The file digest is the unsalted hash
// of the 256-byte struct fsverity_descriptor: version 1, hash algorithm,
// log2(block size), salt size, 4 reserved bytes, the data size (le64), the
// root hash (zero-padded to 64 bytes), the salt (zero-padded to 32 bytes) and
// 144 reserved bytes.
//
// # Invariants
//
//   - A Hasher uses constant memory whatever the file size: one partial data
//     block and one partial block of hashes per tree level. It hashes full
//     blocks straight from the caller's buffer, allocating nothing per block.
//   - Unsalted SHA-256 blocks are hashed several at a time (internal/sha256x2):
//     sixteen in the AVX-512 lanes, otherwise two interleaved with the SHA
//     extensions. SumMany does the same across files, for batches of small
//     files held in memory. It is only faster: digests never depend on the
//     CPU.
//   - A ReaderAt never returns a byte that has not been verified: every data
//     block is read whole and hashed on every read, and compared with a tree
//     entry whose path to the expected digest has been verified. A cached
//     Tree is untrusted input: its top is checked against the expected
//     digest when the ReaderAt is made, and interior blocks when first used.
//   - Tree values are immutable once built or unmarshaled.
//
// # Concurrency
//
// Hasher is not safe for concurrent use; use one per goroutine. Tree and
// ReaderAt are safe for concurrent use. The package has no global state
// other than the sentinel errors ErrNotSupported and ErrNotEnabled.
package fsverity
