package fsverity

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func fsverityTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("fsverity")
	if err != nil {
		t.Skip("fsverity (fsverity-utils) not installed: cannot compare with the reference `fsverity digest`")
	}
	return path
}

// toolArgs returns the `fsverity digest` options for p.
func toolArgs(p Params) []string {
	args := []string{"digest", "--compact", "--hash-alg=" + p.Algorithm.String(), fmt.Sprintf("--block-size=%d", p.BlockSize)}
	if len(p.Salt) > 0 {
		args = append(args, "--salt="+hex.EncodeToString(p.Salt))
	}
	return args
}

// Our digests equal `fsverity digest` for every size and parameter set.
func TestDigestMatchesTool(t *testing.T) {
	tool := fsverityTool(t)
	sizes := []int{0, 1, 4095, 4096, 4097, 128 * 4096, 128*4096 + 1, 1<<20 + 1, 128 << 20}
	if testing.Short() {
		sizes = sizes[:len(sizes)-1]
		t.Log("-short: skipping the 128 MiB file")
	}
	big := testData(sizes[len(sizes)-1], 3)
	dir := t.TempDir()
	var files []string
	for _, n := range sizes {
		f := filepath.Join(dir, fmt.Sprintf("f%d", n))
		if err := os.WriteFile(f, big[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	compared := 0
	for _, p := range paramSets() {
		out, err := exec.Command(tool, append(toolArgs(p), files...)...).Output()
		if err != nil {
			t.Fatalf("fsverity %v: %v", toolArgs(p), err)
		}
		lines := strings.Fields(string(out))
		if len(lines) != len(files) {
			t.Fatalf("fsverity printed %q", out)
		}
		for i, f := range files {
			got, err := DigestFile(f, &p)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != lines[i] {
				t.Errorf("%s size %d salt %x: got %x, fsverity says %s", p.Algorithm, sizes[i], p.Salt, got, lines[i])
			}
			if sizes[i] <= 1<<20+1 { // in-memory paths too
				h, _ := New(&p)
				h.Write(big[:sizes[i]])
				if !bytes.Equal(h.Sum(), got) {
					t.Errorf("Hasher differs from DigestFile")
				}
			}
			compared++
		}
	}
	t.Logf("%d digests equal `fsverity digest`", compared)

	// The default output format, and Digest for default params.
	out, err := exec.Command(tool, "digest", files[1]).Output()
	if err != nil {
		t.Fatal(err)
	}
	d := Sum(big[:1])
	if want := "sha256:" + d.String() + " " + files[1] + "\n"; string(out) != want {
		t.Errorf("fsverity digest printed %q, want %q", out, want)
	}
}

// The Merkle tree and descriptor bytes equal what fsverity-utils writes with
// --out-merkle-tree / --out-descriptor (the kernel's on-disk layout).
func TestTreeMatchesTool(t *testing.T) {
	tool := fsverityTool(t)
	dir := t.TempDir()
	data := testData(1<<20+777, 4)
	for _, n := range []int{0, 1, 4096, 4097, 128 * 4096, 128*4096 + 1, 1<<20 + 777} {
		f := filepath.Join(dir, "data")
		if err := os.WriteFile(f, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []Params{{Algorithm: SHA256, BlockSize: 4096}, {Algorithm: SHA256, BlockSize: 1024, Salt: []byte{0xde, 0xad, 0xbe, 0xef}}, {Algorithm: SHA512, BlockSize: 1024}} {
			treeFile, descFile := filepath.Join(dir, "tree"), filepath.Join(dir, "desc")
			args := append(toolArgs(p), "--out-merkle-tree="+treeFile, "--out-descriptor="+descFile, f)
			if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
				t.Fatalf("fsverity %v: %v\n%s", args, err, out)
			}
			wantTree, _ := os.ReadFile(treeFile)
			wantDesc, _ := os.ReadFile(descFile)
			tr, err := BuildTree(bytes.NewReader(data[:n]), &p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tr.KernelBytes(), wantTree) {
				t.Errorf("size %d %+v: tree differs from --out-merkle-tree (%d vs %d bytes)", n, p, len(tr.KernelBytes()), len(wantTree))
			}
			var desc [DescriptorSize]byte
			tr.c.descriptor(&desc, tr.root, tr.size)
			if !bytes.Equal(desc[:], wantDesc) {
				t.Errorf("size %d %+v: descriptor differs:\n%x\n%x", n, p, desc, wantDesc)
			}
		}
	}
}
