package objstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/keyfile"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

func TestVerityDigestsRecorded(t *testing.T) {
	dir := sampleTree(t)
	for _, mode := range []objstore.Mode{objstore.ModeBareUser, objstore.ModeBareUserOnly} {
		t.Run(string(mode), func(t *testing.T) {
			r := objtest.NewRepo(t, mode)
			id := commitDir(t, r, dir, "main")
			fsys, _ := r.CommitFS(t.Context(), id)
			for _, name := range []string{"a/file", "big", "empty", "a/b/exec"} {
				cid, err := fsys.ContentID(name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.RecordedVerity(cid)
				if err != nil {
					t.Fatalf("RecordedVerity(%s): %v", name, err)
				}
				want, err := fsverity.DigestFile(r.ContentPath(cid), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != strings.TrimSpace(string(hexOf(want))) {
					t.Errorf("recorded digest of %s = %s, want %x", name, got, want)
				}
				if tool, err := exec.LookPath("fsverity"); err == nil {
					out, err := exec.Command(tool, "digest", "--compact", r.ContentPath(cid)).Output()
					if err != nil {
						t.Fatal(err)
					}
					if strings.TrimSpace(string(out)) != got.String() {
						t.Errorf("fsverity digest of %s object = %s, recorded %s", name, out, got)
					}
				}
			}
			// A reopened repository reads the log back.
			r2, err := objstore.Open(r.Path(), nil)
			if err != nil {
				t.Fatal(err)
			}
			cid, _ := fsys.ContentID("a/file")
			if _, err := r2.RecordedVerity(cid); err != nil {
				t.Errorf("after reopen: %v", err)
			}
			checked, _, err := r2.FsckVerity(t.Context(), func(p objstore.VerityProblem) { t.Errorf("FsckVerity: %s: %v", p.Object, p.Err) })
			if err != nil || checked == 0 {
				t.Errorf("FsckVerity checked %d, %v", checked, err)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestVerityChangedObjectNotTrusted(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	id := commitDir(t, r, sampleTree(t), "main")
	fsys, _ := r.CommitFS(t.Context(), id)
	cid, _ := fsys.ContentID("a/file")
	path := r.ContentPath(cid)
	os.Chmod(path, 0o644)
	data, _ := os.ReadFile(path)
	data[0] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RecordedVerity(cid); !errors.Is(err, objstore.ErrNoVerityDigest) {
		t.Errorf("RecordedVerity of changed object = %v, want ErrNoVerityDigest", err)
	}
	var problems []objstore.VerityProblem
	if _, _, err := r.FsckVerity(t.Context(), func(p objstore.VerityProblem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 || problems[0].Object != cid {
		t.Errorf("FsckVerity problems = %v, want one for %s", problems, cid)
	}
}

func TestVerityConfigYesFailsWhereUnsupported(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	f, err := os.CreateTemp(r.Path(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	pf, _ := os.Open(f.Name())
	probe := fsverity.Enable(pf, nil)
	pf.Close()
	os.Remove(f.Name())
	if probe == nil {
		t.Skip("this filesystem supports fs-verity; the unsupported path is tested elsewhere")
	}
	setVerity := func(v string) {
		if err := r.UpdateConfig(func(kf *keyfile.File) error { kf.Set("ex-integrity", "fsverity", v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	setVerity("yes")
	tx, err := r.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	root := objstore.NewMutableTree()
	err = tx.WriteDir(t.Context(), sampleTree(t), root, nil)
	tx.Abort()
	if !errors.Is(err, fsverity.ErrNotSupported) {
		t.Fatalf("commit with fsverity=yes on a filesystem without verity = %v, want ErrNotSupported", err)
	}
	setVerity("maybe")
	commitDir(t, r, sampleTree(t), "main")
}

// A hardlinked checkout changes the objects' ctime (link count); their
// recorded digests must stay trusted.
func TestVerityRecordSurvivesHardlinkCheckout(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	id := commitDir(t, r, sampleTree(t), "main")
	if err := r.Checkout(t.Context(), id, t.TempDir()+"/co", &objstore.CheckoutOptions{UserMode: true}); err != nil {
		t.Fatal(err)
	}
	fsys, _ := r.CommitFS(t.Context(), id)
	cid, _ := fsys.ContentID("a/file")
	if _, err := r.RecordedVerity(cid); err != nil {
		t.Errorf("RecordedVerity after a hardlink checkout: %v", err)
	}
	if _, _, err := r.FsckVerity(t.Context(), func(p objstore.VerityProblem) { t.Errorf("FsckVerity: %s: %v", p.Object, p.Err) }); err != nil {
		t.Fatal(err)
	}
}

// TestVerityRecordedWhereverPublished commits twice into one repository, so
// that the second commit's objects are published one by one into prefix
// directories that already exist, while the first commit's move in whole
// directories. Every regular file of both commits, small, read whole or
// streamed, must have a digest that is still trusted afterwards.
func TestVerityRecordedWhereverPublished(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	var commits []objstore.ID
	for round := range 2 {
		dir := t.TempDir()
		for i := range 600 {
			data := bytes.Repeat([]byte(fmt.Sprintf("round %d file %d\n", round, i)), 1+i%7*1000)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		big := bytes.Repeat([]byte(fmt.Sprintf("streamed %d ", round)), 300000) // > 1 MiB
		if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		commits = append(commits, commitDir(t, r, dir, fmt.Sprintf("r%d", round)))
	}
	for _, c := range commits {
		fsys, err := r.CommitFS(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			cid, err := fsys.ContentID(name)
			if err != nil {
				return err
			}
			got, err := r.RecordedVerity(cid)
			if err != nil {
				t.Errorf("commit %s, %s: %v", c.Short(), name, err)
				return nil
			}
			want, err := fsverity.DigestFile(r.ContentPath(cid), nil)
			if err != nil {
				return err
			}
			if hexOf(want) != got.String() {
				t.Errorf("commit %s, %s: recorded %s, file has %x", c.Short(), name, got, want)
			}
			n++
			return nil
		})
		if err != nil || n != 601 {
			t.Fatalf("walked %d regular files of %s: %v", n, c.Short(), err)
		}
	}
}

// TestVerityRecordedWhenAnotherWriterWins has two transactions stage the same
// objects; the one committing second finds them published already, and its
// records must describe the files that are there, not its own staged copies.
func TestVerityRecordedWhenAnotherWriterWins(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	ctx := t.Context()
	m := &objstore.Meta{Mode: 0o100644}
	var txs []*objstore.Transaction
	var ids []objstore.ID
	for range 2 {
		tx, err := r.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Abort()
		txs = append(txs, tx)
		ids = ids[:0]
		for i := range 50 {
			m.Size = int64(1000 + i)
			id, err := tx.WriteContentBytes(ctx, m, bytes.Repeat([]byte{byte(i)}, 1000+i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	for _, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if _, err := r.RecordedVerity(id); err != nil {
			t.Errorf("object %s: %v", id.Short(), err)
		}
	}
}

// Prune drops the digest log's records of the objects it deletes (and
// older duplicates), keeps the rest readable, and a record appended by
// another process after this one loaded its index survives.
func TestPruneCompactsVerityLog(t *testing.T) {
	ctx := t.Context()
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	keepDir, goneDir := sampleTree(t), t.TempDir()
	os.WriteFile(filepath.Join(goneDir, "only-here"), []byte("doomed\n"), 0o644)
	os.WriteFile(filepath.Join(goneDir, "also"), bytes.Repeat([]byte("z"), 9000), 0o644)
	keep := commitDir(t, r, keepDir, "keep")
	gone := commitDir(t, r, goneDir, "gone")
	goneFS, _ := r.CommitFS(ctx, gone)
	goneIDs := []objstore.ID{}
	for _, n := range []string{"only-here", "also"} {
		id, err := goneFS.ContentID(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.KnownDigest(id); !ok {
			t.Fatalf("%s: no digest recorded before the prune", n)
		}
		goneIDs = append(goneIDs, id)
	}
	// Another process commits a third tree after r loaded its index.
	other, err := objstore.Open(r.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lateDir := t.TempDir()
	os.WriteFile(filepath.Join(lateDir, "late"), []byte("appended by another process\n"), 0o644)
	late := commitDir(t, other, lateDir, "late")
	lateFS, _ := other.CommitFS(ctx, late)
	lateID, _ := lateFS.ContentID("late")

	logPath := filepath.Join(r.Path(), objstore.VerityLogPath)
	before, _ := os.Stat(logPath)
	if err := r.SetRef(ctx, "gone", nil); err != nil {
		t.Fatal(err)
	}
	st, err := r.Prune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.VerityRecords != 2 {
		t.Errorf("Prune dropped %d digest log records; want 2 (only-here, also)", st.VerityRecords)
	}
	after, _ := os.Stat(logPath)
	if after.Size() >= before.Size() {
		t.Errorf("digest log %d bytes after the prune, %d before", after.Size(), before.Size())
	}
	for _, id := range goneIDs {
		if _, ok := r.KnownDigest(id); ok {
			t.Errorf("%s: still in the index after the prune", id)
		}
	}
	// A fresh open reads the rewritten log: kept objects and the other
	// process's record are there, pruned ones are not.
	r2, err := objstore.Open(r.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keepFS, _ := r2.CommitFS(ctx, keep)
	for _, n := range []string{"a/file", "big", "a/b/exec"} {
		id, _ := keepFS.ContentID(n)
		if _, err := r2.RecordedVerity(id); err != nil {
			t.Errorf("%s after the prune: %v", n, err)
		}
	}
	if _, err := r2.RecordedVerity(lateID); err != nil {
		t.Errorf("the other process's record after the prune: %v", err)
	}
	for _, id := range goneIDs {
		if _, ok := r2.KnownDigest(id); ok {
			t.Errorf("%s: still in the log after the prune", id)
		}
	}
	// Nothing more to drop: the log is left as it is.
	if st, err := r2.Prune(ctx, nil); err != nil || st.VerityRecords != 0 || st.Objects != 0 {
		t.Errorf("second prune: %+v, %v", st, err)
	}
	if again, _ := os.Stat(logPath); !again.ModTime().Equal(after.ModTime()) || again.Size() != after.Size() {
		t.Error("a prune with nothing to drop rewrote the log")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(logPath), ".verity.log-*")); len(m) > 0 {
		t.Errorf("temporary files left: %q", m)
	}
}
