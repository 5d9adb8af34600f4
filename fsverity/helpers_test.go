package fsverity

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"testing"
)

// testData returns n deterministic pseudo-random bytes.
func testData(n int, seed uint64) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(key).Read(b)
	return b
}

// skipOrFail skips the test because a capability is missing, or fails it
// when GOSTREE_TEST_NO_SKIP=1 demands that the capability be present.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1 but: "+format, args...)
	}
	t.Skipf(format, args...)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paramSets are the parameter combinations checked against fsverity-utils.
func paramSets() []Params {
	salts := [][]byte{nil, {0xde, 0xad, 0xbe, 0xef}, []byte("0123456789abcdef0123456789ABCDEF")}
	var ps []Params
	for _, alg := range []Algorithm{SHA256, SHA512} {
		for _, bs := range []int{1024, 4096, 65536} {
			for _, salt := range salts {
				ps = append(ps, Params{Algorithm: alg, BlockSize: bs, Salt: salt})
			}
		}
	}
	return ps
}
