package objstore_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

func TestRemoteAddListDelete(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeArchive)
	if err := r.AddRemote("origin", "https://example.org/repo", &objstore.AddRemoteOptions{
		NoGPGVerify: true, Branches: []string{"stable", "os/x86_64/main"}, ContentURL: "https://cdn.example.org/repo",
		Settings: []objstore.RemoteSetting{{Key: "tls-permissive", Value: "true"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRemote("backup", "file:///srv/repo", nil); err != nil {
		t.Fatal(err)
	}
	all, err := r.Remotes(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rm := range all {
		names = append(names, rm.Name)
	}
	if !slices.Equal(names, []string{"backup", "origin"}) {
		t.Errorf("Remotes() = %v, want [backup origin]", names)
	}
	o, err := r.Remote("origin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "https://example.org/repo" || o.ObjectsURL() != "https://cdn.example.org/repo" || o.GPGVerify ||
		!slices.Equal(o.Branches, []string{"stable", "os/x86_64/main"}) || o.Options["tls-permissive"] != "true" {
		t.Errorf("Remote(origin) = %+v", o)
	}
	b, _ := r.Remote("backup", nil)
	if !b.GPGVerify || b.ObjectsURL() != "file:///srv/repo" {
		t.Errorf("Remote(backup) = %+v, want gpg-verify on by default", b)
	}

	if err := r.AddRemote("origin", "http://other/", nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("adding a second origin: error = %v", err)
	}
	if err := r.AddRemote("origin", "http://other/", &objstore.AddRemoteOptions{IfNotExists: true}); err != nil {
		t.Errorf("IfNotExists: %v", err)
	}
	if o, _ := r.Remote("origin", nil); o.URL != "https://example.org/repo" {
		t.Errorf("IfNotExists replaced the remote: %+v", o)
	}
	if err := r.AddRemote("origin", "http://other/", &objstore.AddRemoteOptions{Force: true}); err != nil {
		t.Errorf("Force: %v", err)
	}
	if o, _ := r.Remote("origin", nil); o.URL != "http://other/" || len(o.Branches) != 0 {
		t.Errorf("Force did not replace the remote: %+v", o)
	}

	if err := r.DeleteRemote("origin", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Remote("origin", nil); !errors.Is(err, objstore.ErrRemoteNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remote after delete: error = %v", err)
	}
	if err := r.DeleteRemote("origin", nil); !errors.Is(err, objstore.ErrRemoteNotFound) {
		t.Errorf("second delete: error = %v", err)
	}
	if err := r.DeleteRemote("origin", &objstore.DeleteRemoteOptions{IfExists: true}); err != nil {
		t.Errorf("delete IfExists: %v", err)
	}
	// The config survives reopening (UpdateConfig wrote it).
	r2, err := objstore.Open(r.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := r2.Remotes(nil); len(all) != 1 || all[0].Name != "backup" {
		t.Errorf("after reopen: %v", all)
	}
}

func TestRemoteInvalid(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeArchive)
	for _, tc := range []struct{ name, url string }{
		{"", "http://x/"}, {"a/b", "http://x/"}, {"-x", "http://x/"}, {"ok", ""}, {"ok", "ftp://x/"}, {"ok", "/just/a/path"},
	} {
		if err := r.AddRemote(tc.name, tc.url, nil); err == nil {
			t.Errorf("AddRemote(%q, %q) succeeded", tc.name, tc.url)
		}
	}
	if err := r.AddRemote("ok", "http://x/", &objstore.AddRemoteOptions{Branches: []string{"bad ref"}}); err == nil {
		t.Error("AddRemote with an invalid branch succeeded")
	}
}

func TestRemotesDir(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeArchive)
	dir := filepath.Join(t.TempDir(), "remotes.d")
	opts := objstore.RemotesOptions{Dir: dir}
	if err := r.AddRemote("fromdir", "http://d/", &objstore.AddRemoteOptions{RemotesOptions: opts, InDir: true, NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromdir.conf")); err != nil {
		t.Fatalf("remotes.d file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ignored.txt"), []byte("[remote \"nope\"]\nurl=http://n/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRemote("inconfig", "http://c/", &objstore.AddRemoteOptions{RemotesOptions: opts}); err != nil {
		t.Fatal(err)
	}
	all, err := r.Remotes(&opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "fromdir" || all[0].File == "" || all[1].Name != "inconfig" || all[1].File != "" {
		t.Fatalf("Remotes = %+v", all)
	}
	if none, _ := r.Remotes(nil); len(none) != 1 {
		t.Errorf("without the dir: %d remotes, want 1", len(none))
	}
	if err := r.DeleteRemote("fromdir", &objstore.DeleteRemoteOptions{RemotesOptions: opts}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromdir.conf")); !os.IsNotExist(err) {
		t.Errorf("remotes.d file survived delete: %v", err)
	}
}

// TestRemoteOstreeOracle checks that gostree writes the config ostree
// writes for the same remote add, and that each reads the other's.
func TestRemoteOstreeOracle(t *testing.T) {
	if _, err := exec.LookPath("ostree"); err != nil {
		skipOrFail(t, "ostree not installed: %v", err)
	}
	theirs := filepath.Join(t.TempDir(), "repo")
	ostree := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ostree", append([]string{"--repo=" + theirs}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ostree("init", "--mode=archive")
	ostree("remote", "add", "--no-gpg-verify", "--set=foo=bar", "origin", "http://127.0.0.1:1/repo", "main", "other/branch")
	ostree("remote", "add", "plain", "https://example.org/")

	ours := objtest.NewRepo(t, objstore.ModeArchive)
	if err := ours.AddRemote("origin", "http://127.0.0.1:1/repo", &objstore.AddRemoteOptions{
		NoGPGVerify: true, Settings: []objstore.RemoteSetting{{Key: "foo", Value: "bar"}}, Branches: []string{"main", "other/branch"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := ours.AddRemote("plain", "https://example.org/", nil); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(theirs, "config"))
	got, _ := os.ReadFile(filepath.Join(ours.Path(), "config"))
	if string(got) != string(want) {
		t.Errorf("config differs from ostree's:\n--- gostree\n%s--- ostree\n%s", got, want)
	}

	// gostree reads ostree's remotes.
	r, err := objstore.Open(theirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Remote("origin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.GPGVerify || !slices.Equal(o.Branches, []string{"main", "other/branch"}) || o.Options["foo"] != "bar" {
		t.Errorf("ostree's remote read as %+v", o)
	}
	// ostree reads gostree's, and sees a gostree delete.
	theirs = ours.Path()
	if out := ostree("remote", "list", "-u"); !strings.Contains(out, "origin  http://127.0.0.1:1/repo") {
		t.Errorf("ostree remote list -u:\n%s", out)
	}
	if err := ours.DeleteRemote("origin", nil); err != nil {
		t.Fatal(err)
	}
	if out := ostree("remote", "list"); strings.TrimSpace(out) != "plain" {
		t.Errorf("ostree remote list after delete:\n%s", out)
	}
}
