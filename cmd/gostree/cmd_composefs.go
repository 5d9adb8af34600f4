package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
)

func newComposefsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "composefs",
		Short: "Inspect composefs images",
	}
	imageCmd := func(use, short string, fn func(io.Writer, io.ReaderAt, int64) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " IMAGE",
			Short: short,
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil {
					return err
				}
				if err := fn(a.stdout, f, fi.Size()); err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return nil
			},
		}
	}
	cmd.AddCommand(
		imageCmd("ls", "List the paths of a composefs image (as composefs-info ls)", composefs.List),
		imageCmd("dump", "Print a composefs image in the composefs dump format (as composefs-info dump)", composefs.Dump),
	)
	return cmd
}

// checkoutComposefs writes the composefs image of a commit to path, as
// `ostree checkout --composefs` does, and prints nothing.
func (a *app) checkoutComposefs(ctx context.Context, repo *objstore.Repo, id objstore.ID, path string, noVerity bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = composefs.WriteCommitOpts(ctx, repo, id, f, &composefs.CommitOptions{NoDigests: noVerity, Logger: a.logger()})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// composefsMetadata adds ostree.composefs.digest.v0 for the tree of root to
// opts.Metadata, as `ostree commit --generate-composefs-metadata` does. The
// tree's objects must be readable to build its image, so tx is committed
// (without a commit object or ref) and a new transaction is returned for the
// commit object.
func composefsMetadata(ctx context.Context, repo *objstore.Repo, tx *objstore.Transaction, root *objstore.MutableTree, opts *objstore.CommitOptions) (*objstore.Transaction, error) {
	tree, err := root.WriteTree(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	d, err := composefs.WriteTreeFS(ctx, repo, repo.TreeFS(tree, root.Meta, objstore.ID{}), io.Discard, nil)
	if err != nil {
		return nil, fmt.Errorf("generate composefs metadata: %w", err)
	}
	opts.Metadata = gvariantDictInsert(opts.Metadata, composefs.DigestKey,
		gvariant.Variant{Type: gvariant.MustParseType("ay"), Value: append([]byte(nil), d[:]...)})
	return repo.Begin(ctx)
}

// gvariantDictInsert returns md with key set, in the order ostree's
// GVariantDict round trip (g_variant_dict_init, _insert_value, _end) gives:
// GLib's GHashTable iteration order for g_str_hash keys. That order is part
// of the commit checksum. The emulation covers tables of up to 7 keys,
// GHashTable's initial 8 buckets; beyond that the key is appended.
func gvariantDictInsert(md objstore.Metadata, key string, v gvariant.Variant) objstore.Metadata {
	out := append(objstore.Metadata(nil), md...)
	out.Set(key, v)
	keys := make([]string, len(out))
	for i, e := range out {
		keys[i] = e.Key
	}
	order, ok := glibHashOrder(keys)
	if !ok {
		return out
	}
	byKey := make(map[string]objstore.MetaEntry, len(out))
	for _, e := range out {
		byKey[e.Key] = e
	}
	sorted := make(objstore.Metadata, 0, len(out))
	for _, k := range order {
		sorted = append(sorted, byKey[k])
	}
	return sorted
}

// glibHashOrder inserts distinct keys, in order, into an emulated GLib
// GHashTable (g_str_hash, 8 buckets, modulus 7, index = hash·11 mod 7,
// quadratic probing) and returns its iteration order.
func glibHashOrder(keys []string) ([]string, bool) {
	const size, mod = 8, 7
	if len(keys) > 7 {
		return nil, false
	}
	var slots [size]struct {
		hash uint32
		key  string
		used bool
	}
	for _, k := range keys {
		h := uint32(5381)
		for i := 0; i < len(k); i++ {
			h = h<<5 + h + uint32(int32(int8(k[i]))) // g_str_hash uses signed char
		}
		if h < 2 {
			h = 2
		}
		idx := (h * 11) % mod
		for step := uint32(0); slots[idx].used && !(slots[idx].hash == h && slots[idx].key == k); {
			step++
			idx = (idx + step) & (size - 1)
		}
		slots[idx].hash, slots[idx].key, slots[idx].used = h, k, true
	}
	var out []string
	for _, s := range slots {
		if s.used {
			out = append(out, s.key)
		}
	}
	return out, true
}
