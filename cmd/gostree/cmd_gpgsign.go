package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/gpgverify"
)

func newGPGSignCmd(a *app) *cobra.Command {
	var homedir string
	var del bool
	cmd := &cobra.Command{
		Use:   "gpg-sign [--gpg-homedir=DIR] [--delete] COMMIT KEY-ID...",
		Short: "Sign a commit with GPG keys, or delete their signatures",
		Long: `Add a detached OpenPGP signature of the commit by each key to its
ostree.gpgsigs metadata, as ostree gpg-sign does; the gpg tool makes them
(keys from --gpg-homedir or GnuPG's default home). --delete removes the
signatures issued by the keys given (key ID, short ID or fingerprint).`,
		Args: minArgs(2, "need a COMMIT to sign or verify, and at least one KEY-ID"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			repo, id, err := a.resolveRev(ctx, args[0])
			if err != nil {
				return err
			}
			if del {
				n, err := deleteGPGSignatures(ctx, repo, id, args[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Signatures deleted: %d\n", n)
				return nil
			}
			return gpgSignCommit(ctx, repo, id, args[1:], homedir)
		},
	}
	cmd.Flags().StringVar(&homedir, "gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	cmd.Flags().BoolVarP(&del, "delete", "d", false, "delete signatures having any of the GPG KEY-IDs")
	return cmd
}

// commitSignatures returns a commit's detached metadata and its GPG
// signatures.
func commitSignatures(ctx context.Context, repo *objstore.Repo, id objstore.ID) (objstore.Metadata, [][]byte, error) {
	md, err := repo.LoadCommitMeta(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var sigs [][]byte
	if v, ok := md.Lookup(gpgverify.SignaturesKey); ok && v.Type.String() == "aay" {
		for _, s := range v.Value.([]any) {
			sigs = append(sigs, s.([]byte))
		}
	}
	return md, sigs, nil
}

func writeSignatures(ctx context.Context, repo *objstore.Repo, id objstore.ID, md objstore.Metadata, sigs [][]byte) error {
	var out objstore.Metadata
	for _, e := range md {
		if e.Key != gpgverify.SignaturesKey {
			out = append(out, e)
		}
	}
	if len(sigs) > 0 {
		list := make([]any, len(sigs))
		for i, s := range sigs {
			list[i] = s
		}
		out.Set(gpgverify.SignaturesKey, gvariant.NewVariant("aay", list))
	}
	tx, err := repo.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Abort()
	if err := tx.WriteCommitMeta(ctx, id, out); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// gpgSignCommit appends a signature by each key, as ostree does (a key
// that signed already signs again).
func gpgSignCommit(ctx context.Context, repo *objstore.Repo, id objstore.ID, keys []string, homedir string) error {
	data, err := repo.ReadMetaObject(ctx, id, objstore.TypeCommit)
	if err != nil {
		return err
	}
	md, sigs, err := commitSignatures(ctx, repo, id)
	if err != nil {
		return err
	}
	for _, k := range keys {
		sig, err := gpgverify.Sign(ctx, data, k, homedir)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	return writeSignatures(ctx, repo, id, md, sigs)
}

func deleteGPGSignatures(ctx context.Context, repo *objstore.Repo, id objstore.ID, keys []string) (int, error) {
	md, sigs, err := commitSignatures(ctx, repo, id)
	if err != nil {
		return 0, err
	}
	var keep [][]byte
	for _, s := range sigs {
		drop := false
		for _, k := range keys {
			if gpgverify.SignedBy(s, k) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, s)
		}
	}
	if n := len(sigs) - len(keep); n > 0 {
		return n, writeSignatures(ctx, repo, id, md, keep)
	}
	return 0, nil
}

// gpgSignSummary writes summary.sig with a signature of the summary by
// each key.
func gpgSignSummary(ctx context.Context, repo *objstore.Repo, keys []string, homedir string) error {
	data, err := os.ReadFile(filepath.Join(repo.Path(), objstore.SummaryPath))
	if err != nil {
		return err
	}
	var list []any
	for _, k := range keys {
		sig, err := gpgverify.Sign(ctx, data, k, homedir)
		if err != nil {
			return err
		}
		list = append(list, sig)
	}
	enc, err := objstore.EncodeMetadata(objstore.Metadata{{Key: gpgverify.SignaturesKey, Value: gvariant.NewVariant("aay", list)}})
	if err != nil {
		return err
	}
	return objstore.WriteFileAtomic(filepath.Join(repo.Path(), objstore.SummarySigPath), enc, 0o644)
}
