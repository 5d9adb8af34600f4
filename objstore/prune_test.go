package objstore_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// chain commits n trees, each the child of the one before, on branch.
func chain(t *testing.T, r *objstore.Repo, branch string, n int) []objstore.ID {
	t.Helper()
	ctx := t.Context()
	var ids []objstore.ID
	for i := range n {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "f"), []byte(branch+strconv.Itoa(i)), 0o644)
		tx, err := r.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		root := objstore.NewMutableTree()
		if err := tx.WriteDir(ctx, dir, root, nil); err != nil {
			t.Fatal(err)
		}
		opts := &objstore.CommitOptions{Subject: "c" + strconv.Itoa(i), Timestamp: time.Unix(int64(1000*(i+1)), 0)}
		if len(ids) > 0 {
			opts.Parent = ids[len(ids)-1]
		}
		id, err := tx.WriteCommit(ctx, root, opts)
		if err != nil {
			t.Fatal(err)
		}
		tx.SetRef(branch, id)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Depths from several refs are a union: whatever the order the refs are
// walked in, a commit kept by one ref with depth left keeps its parents
// (ostree 2022.7 stops at the first commit already seen, so the result
// there depends on hash order).
func TestPruneDepthUnion(t *testing.T) {
	for _, second := range []string{"a-first", "z-last"} {
		t.Run(second, func(t *testing.T) {
			ctx := t.Context()
			r := objtest.NewRepo(t, objstore.ModeBareUser)
			c := chain(t, r, "main", 3) // c0 <- c1 <- c2
			if err := r.SetRef(ctx, second, &c[1]); err != nil {
				t.Fatal(err)
			}
			st, err := r.PruneWith(ctx, &objstore.PruneOptions{RefsOnly: true, Depth: 1})
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range c {
				if ok, err := r.HasObject(id, objstore.TypeCommit); err != nil || !ok {
					t.Errorf("c%d deleted (%v); %s -> c1 with depth 1 keeps c0", i, err, second)
				}
			}
			if st.Objects != 0 {
				t.Errorf("deleted %d objects; want none", st.Objects)
			}
			// Depth 0: main keeps c2, the other ref c1; c0 and its
			// file go, and the commit leaves no tombstone by default.
			st, err = r.PruneWith(ctx, &objstore.PruneOptions{RefsOnly: true, Depth: 0})
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := r.HasObject(c[0], objstore.TypeCommit); ok || st.Objects < 2 {
				t.Errorf("depth 0: c0 still there (%+v)", st)
			}
			if ok, _ := r.HasObject(c[0], objstore.TypeTombstoneCommit); ok {
				t.Error("a tombstone without [core] tombstone-commits")
			}
		})
	}
}

// DeleteCommit refuses a commit a ref points at, and otherwise deletes it
// with its detached metadata, writes a tombstone and turns tombstones on.
func TestDeleteCommit(t *testing.T) {
	ctx := t.Context()
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	c := chain(t, r, "main", 2)
	if err := r.DeleteCommit(ctx, c[1]); err == nil {
		t.Fatal("deleted the commit main points at")
	}
	meta := filepath.Join(r.Path(), r.ObjectPath(c[0], objstore.TypeCommitMeta))
	os.WriteFile(meta, nil, 0o644)
	if err := r.DeleteCommit(ctx, c[0]); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.HasObject(c[0], objstore.TypeCommit); ok {
		t.Error("commit still there")
	}
	if _, err := os.Stat(meta); !os.IsNotExist(err) {
		t.Errorf("detached metadata still there: %v", err)
	}
	if ok, _ := r.HasObject(c[0], objstore.TypeTombstoneCommit); !ok {
		t.Error("no tombstone")
	}
	if on, _ := r.Config().Bool("core", "tombstone-commits", false); !on {
		t.Error("[core] tombstone-commits not turned on")
	}
	if err := r.DeleteCommit(ctx, c[0]); err == nil {
		t.Error("deleting a missing commit succeeded")
	}
	// The history walk stops at the missing parent; main is intact.
	if _, err := r.PruneWith(ctx, &objstore.PruneOptions{RefsOnly: true, Depth: -1}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.HasObject(c[1], objstore.TypeCommit); !ok {
		t.Error("main's commit pruned")
	}
}
