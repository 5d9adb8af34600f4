package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
)

type commitFlags struct {
	branch, subject, body, bodyFile, timestamp, parent string
	metaStrings, metaVariants, trees, bindRefs         []string
	gpgSign                                            []string
	gpgHomedir                                         string
	orphan, noXattrs, canonical, noBindings            bool
	tarAutocreate, skipIfUnchanged, tableOutput        bool
	ownerUID, ownerGID                                 int
	jobs                                               int
	noStatCache, noVerityDigests                       bool
	composefsMetadata                                  bool
	statOverride, skipList                             string
	roExecutables                                      bool
	keepMetadata                                       []string
	consume                                            bool
}

func newCommitCmd(a *app) *cobra.Command {
	f := &commitFlags{}
	cmd := &cobra.Command{
		Use:   "commit [OPTION...] [PATH]",
		Short: "Commit a new revision",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.commit(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.branch, "branch", "b", "", "branch")
	fl.StringVarP(&f.subject, "subject", "s", "", "one line subject")
	fl.StringVarP(&f.body, "body", "m", "", "full description")
	fl.StringVar(&f.bodyFile, "body-file", "", "commit message from FILE path")
	fl.StringVar(&f.timestamp, "timestamp", "", "override the timestamp of the commit (@EPOCH or ISO 8601)")
	fl.StringVar(&f.parent, "parent", "", "parent commit checksum, or \"none\"")
	fl.StringArrayVar(&f.metaStrings, "add-metadata-string", nil, "add a key/value pair to metadata (KEY=VALUE)")
	fl.StringArrayVar(&f.metaVariants, "add-metadata", nil, "add a key/value pair to metadata, VALUE in GVariant text format (KEY=VALUE, e.g. n=5, t='x', l=[1, 2], u='uint64 3')")
	fl.StringArrayVar(&f.trees, "tree", nil, "overlay the given argument as a tree: dir=PATH, tar=TARFILE or ref=COMMIT")
	fl.StringArrayVar(&f.keepMetadata, "keep-metadata", nil, "keep metadata KEY and its value from the parent commit")
	fl.StringArrayVar(&f.gpgSign, "gpg-sign", nil, "GPG key ID to sign the commit with (repeatable; made by the gpg tool)")
	fl.StringVar(&f.gpgHomedir, "gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	fl.StringArrayVar(&f.bindRefs, "bind-ref", nil, "add a ref to the ref binding commit metadata")
	fl.BoolVar(&f.orphan, "orphan", false, "create a commit without writing a ref")
	fl.BoolVar(&f.noXattrs, "no-xattrs", false, "do not import extended attributes")
	fl.BoolVar(&f.canonical, "canonical-permissions", false, "canonicalize permissions: uid/gid 0, modes masked with 0755, no xattrs")
	fl.BoolVar(&f.noBindings, "no-bindings", false, "do not write any ref bindings")
	fl.BoolVar(&f.tarAutocreate, "tar-autocreate-parents", false, "when loading tar archives, create missing parent directories")
	fl.BoolVar(&f.skipIfUnchanged, "skip-if-unchanged", false, "if the contents are unchanged from the previous commit, do nothing")
	fl.BoolVar(&f.tableOutput, "table-output", false, "output more information in a KEY: VALUE format")
	fl.IntVar(&f.ownerUID, "owner-uid", -1, "set file ownership user id")
	fl.IntVar(&f.ownerGID, "owner-gid", -1, "set file ownership group id")
	fl.StringVar(&f.statOverride, "statoverride", "", "file of \"MODE PATH\" lines: add the (decimal) MODE bits to PATH's permissions")
	fl.BoolVar(&f.consume, "consume", false, "delete the committed directories once the commit is written")
	fl.BoolVar(&f.roExecutables, "mode-ro-executables", false, "ensure executable files are not writable")
	fl.StringVar(&f.skipList, "skip-list", "", "file of paths, one a line, to leave out of the commit")
	fl.IntVar(&f.jobs, "jobs", 0, "files processed at once (default: 2 per CPU)")
	fl.BoolVar(&f.noStatCache, "no-stat-cache", false, "re-read every file even when its stat is unchanged since the last commit")
	fl.BoolVar(&f.noVerityDigests, "no-verity-digests", false, "do not record fs-verity digests of new objects (composefs images then hash them when built)")
	fl.BoolVar(&f.composefsMetadata, "generate-composefs-metadata", false, "generate composefs commit metadata")
	return cmd
}

// parseTimestamp accepts the forms `ostree commit --timestamp` takes: @EPOCH
// and ISO 8601 date-times (UTC unless a zone is given).
func parseTimestamp(s string) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("could not parse timestamp %q (use @EPOCH or ISO 8601, e.g. 2020-01-01T00:00:00Z)", s)
}

func (a *app) commit(ctx context.Context, f *commitFlags, args []string) error {
	if f.branch == "" && !f.orphan {
		return usagef("a branch must be specified with --branch, or use --orphan")
	}
	if f.canonical && (f.ownerUID > 0 || f.ownerGID > 0) {
		return usagef("cannot specify both --canonical-permissions and non-zero --owner-uid/--owner-gid")
	}
	if f.branch != "" {
		if err := objstore.ValidateRef(f.branch); err != nil {
			return usagef("%v", err)
		}
	}
	repo, err := a.openRepo()
	if err != nil {
		return err
	}
	opts := &objstore.CommitOptions{Subject: f.subject, Body: f.body}
	if f.bodyFile != "" {
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return fmt.Errorf("read body file: %w", err)
		}
		opts.Body = string(b)
	}
	if f.timestamp != "" {
		if opts.Timestamp, err = parseTimestamp(f.timestamp); err != nil {
			return usagef("%v", err)
		}
	}
	switch {
	case f.parent == "none":
	case f.parent != "":
		if opts.Parent, err = repo.ResolveRev(ctx, f.parent); err != nil {
			return err
		}
	case f.branch != "":
		if id, err := repo.ResolveRef(f.branch); err == nil {
			opts.Parent = id
		}
	}
	// As ostree: the strings, then the typed values, each in the order
	// given (a key given twice is there twice).
	for _, kv := range f.metaStrings {
		k, v, err := splitMetadataArg(kv)
		if err != nil {
			return err
		}
		opts.Metadata = append(opts.Metadata, objstore.MetaEntry{Key: k, Value: gvariant.Variant{Type: gvariant.MustParseType("s"), Value: v}})
	}
	for _, kv := range f.metaVariants {
		k, v, err := splitMetadataArg(kv)
		if err != nil {
			return err
		}
		val, err := parseVariantText(v)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", kv, err)
		}
		opts.Metadata = append(opts.Metadata, objstore.MetaEntry{Key: k, Value: val})
	}
	if len(f.keepMetadata) > 0 {
		// As ostree: after the added keys, in the order given, each one
		// required in the parent (a key added too is then there twice).
		if opts.Parent.IsZero() {
			return usagef("either --branch or --parent must be specified when using --keep-metadata")
		}
		pc, err := repo.LoadCommit(ctx, opts.Parent)
		if err != nil {
			return err
		}
		for _, k := range f.keepMetadata {
			v, ok := pc.Metadata.Lookup(k)
			if !ok {
				return fmt.Errorf("missing metadata key '%s' from commit '%s'", k, opts.Parent)
			}
			opts.Metadata = append(opts.Metadata, objstore.MetaEntry{Key: k, Value: v})
		}
	}
	if !f.noBindings {
		// As ostree: the binding is written even with no ref to bind
		// (an orphan commit gets an empty list).
		var refs []string
		if f.branch != "" {
			refs = append(refs, f.branch)
		}
		refs = append(refs, f.bindRefs...)
		sort.Strings(refs)
		vals := make([]any, len(refs))
		for i, r := range refs {
			vals[i] = r
		}
		opts.Metadata = append(opts.Metadata, objstore.MetaEntry{Key: "ostree.ref-binding", Value: gvariant.Variant{Type: gvariant.MustParseType("as"), Value: vals}})
		if cid := repo.CollectionID(); cid != "" {
			if _, ok := opts.Metadata.Lookup("ostree.collection-binding"); !ok {
				opts.Metadata = append(opts.Metadata, objstore.MetaEntry{Key: "ostree.collection-binding", Value: gvariant.Variant{Type: gvariant.MustParseType("s"), Value: cid}})
			}
		}
	}
	trees := f.trees
	if len(trees) == 0 {
		path := "."
		if len(args) == 1 {
			path = args[0]
		}
		trees = []string{"dir=" + path}
	} else if len(args) > 0 {
		return usagef("give the tree either as PATH or with --tree, not both")
	}
	mod := &objstore.Modifier{OwnerUID: f.ownerUID, OwnerGID: f.ownerGID, CanonicalPermissions: f.canonical, NoXattrs: f.noXattrs, ROExecutables: f.roExecutables}
	if mod.Rules, err = loadPathRules(f.statOverride, f.skipList); err != nil {
		return err
	}
	tx, err := repo.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Abort()
	if f.noVerityDigests {
		tx.SkipVerityDigests()
	}
	root := objstore.NewMutableTree()
	for _, t := range trees {
		kind, arg, ok := strings.Cut(t, "=")
		if !ok {
			return usagef("missing type in tree specification '%s'", t)
		}
		switch kind {
		case "dir":
			err = tx.WriteDir(ctx, arg, root, &objstore.DirOptions{Modifier: mod, Jobs: f.jobs, NoStatCache: f.noStatCache})
		case "tar":
			err = tx.WriteTarFile(ctx, arg, root, &objstore.TarOptions{Modifier: mod, AutocreateParents: f.tarAutocreate})
		case "ref":
			var id objstore.ID
			if id, err = repo.ResolveRev(ctx, arg); err == nil {
				err = tx.WriteCommitTree(ctx, id, root, mod)
			}
		default:
			return usagef("invalid tree type specification '%s'", kind)
		}
		if err != nil {
			return err
		}
	}
	if modes, skips := mod.Rules.Unmatched(); len(modes) > 0 || len(skips) > 0 {
		// As ostree: a path that matched nothing is an error.
		var msgs []string
		if len(modes) > 0 {
			msgs = append(msgs, "unmatched statoverride paths: "+strings.Join(modes, ", "))
		}
		if len(skips) > 0 {
			msgs = append(msgs, "unmatched skip-list paths: "+strings.Join(skips, ", "))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if f.skipIfUnchanged && !opts.Parent.IsZero() {
		treeID, err := root.WriteTree(ctx, tx)
		if err != nil {
			return err
		}
		if pc, err := repo.LoadCommit(ctx, opts.Parent); err == nil && pc.RootTree == treeID && pc.RootMeta == root.Meta {
			fmt.Fprintln(a.stdout, opts.Parent)
			return nil
		}
	}
	if f.composefsMetadata {
		if tx, err = composefsMetadata(ctx, repo, tx, root, opts); err != nil {
			return err
		}
		defer tx.Abort()
	}
	id, err := tx.WriteCommit(ctx, root, opts)
	if err != nil {
		return err
	}
	// A commit to sign gets its ref only once signed, so the ref never
	// names it unsigned.
	if f.branch != "" && len(f.gpgSign) == 0 {
		tx.SetRef(f.branch, id)
	}
	stats := tx.Stats()
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(f.gpgSign) > 0 {
		if err := gpgSignCommit(ctx, repo, id, f.gpgSign, f.gpgHomedir); err != nil {
			return fmt.Errorf("commit %s written, but not signed: %w", id, err)
		}
		if f.branch != "" {
			if err := repo.SetRef(ctx, f.branch, &id); err != nil {
				return err
			}
		}
	}
	if f.consume {
		// Only once the commit is durable, and like ostree the whole
		// directory, skipped paths included; archives stay.
		for _, t := range trees {
			if dir, ok := strings.CutPrefix(t, "dir="); ok {
				abs, err := filepath.Abs(dir)
				if err == nil {
					err = os.RemoveAll(abs)
				}
				if err != nil {
					return fmt.Errorf("commit %s written, but --consume: %w", id, err)
				}
			}
		}
	}
	if f.tableOutput {
		fmt.Fprintf(a.stdout, "Commit: %s\nMetadata Total: %d\nMetadata Written: %d\nContent Total: %d\nContent Written: %d\nContent Bytes Written: %d\n",
			id, stats.MetaTotal, stats.MetaWritten, stats.ContentTotal, stats.ContentWritten, stats.ContentBytesWritten)
		return nil
	}
	fmt.Fprintln(a.stdout, id)
	return nil
}

// loadPathRules reads --statoverride and --skip-list files; nil when
// neither is given.
func loadPathRules(statOverride, skipList string) (*objstore.PathRules, error) {
	if statOverride == "" && skipList == "" {
		return nil, nil
	}
	var modes map[string]uint32
	var skips []string
	err := parseFileIf(statOverride, func(r io.Reader) (err error) { modes, err = objstore.ParseStatOverride(r); return })
	if err == nil {
		err = parseFileIf(skipList, func(r io.Reader) (err error) { skips, err = objstore.ParseSkipList(r); return })
	}
	if err != nil {
		return nil, err
	}
	return objstore.NewPathRules(modes, skips), nil
}

// parseFileIf runs parse on the file at path, unless path is empty.
func parseFileIf(path string, parse func(io.Reader) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := parse(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// splitMetadataArg splits a KEY=VALUE metadata argument as ostree does: at
// the first '=', the key not empty.
func splitMetadataArg(kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return "", "", usagef("missing '=' in KEY=VALUE metadata '%s'", kv)
	}
	if k == "" {
		return "", "", usagef("empty metadata key in '%s'", kv)
	}
	return k, v, nil
}
