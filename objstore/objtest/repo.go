package objtest

import (
	"testing"

	"github.com/gostree/gostree/objstore"
)

// NewRepo creates a repository of the given mode in a fresh temporary
// directory, removed when the test ends.
func NewRepo(t testing.TB, mode objstore.Mode) *objstore.Repo {
	t.Helper()
	r, err := objstore.Init(t.Context(), t.TempDir()+"/repo", &objstore.InitOptions{Mode: mode})
	if err != nil {
		t.Fatalf("init %s repo: %v", mode, err)
	}
	return r
}
