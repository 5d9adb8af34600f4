package fsverity_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gostree/gostree/fsverity"
)

func ExampleSum() {
	fmt.Println(fsverity.Sum([]byte("hello world")))
	// Output: 1e2eaa4202d750a41174ee454970b92c1bc2f925b1e35076d8c7d5f56362ba64
}

func ExampleHasher() {
	h, err := fsverity.New(&fsverity.Params{Algorithm: fsverity.SHA512, BlockSize: 1024})
	if err != nil {
		panic(err)
	}
	io.WriteString(h, "hello ")
	io.WriteString(h, "world")
	fmt.Printf("%d bytes, %s:%x\n", h.Size(), h.Params().Algorithm, h.Sum()[:8])
	// Output: 11 bytes, sha512:c42521511b072c90
}

func ExampleNewReaderAt() {
	data := bytes.Repeat([]byte("gostree "), 2000)
	want := fsverity.Sum(data)

	// Build (and cache) the tree once, e.g. when the object is written.
	tree, _ := fsverity.BuildTree(bytes.NewReader(data), nil)
	cached, _ := tree.MarshalBinary()

	// Later: read through an untrusted cached tree.
	var t fsverity.Tree
	if err := t.UnmarshalBinary(cached); err != nil {
		panic(err)
	}
	data[9000] ^= 1 // the stored object goes bad
	v, err := fsverity.NewReaderAt(bytes.NewReader(data), int64(len(data)), want[:], &t, nil, "obj")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 8)
	n, err := v.ReadAt(buf, 0)
	fmt.Printf("%q %v\n", buf[:n], err)
	_, err = v.ReadAt(buf, 9000)
	fmt.Println(err.(*fsverity.MismatchError).Offset)
	// Output:
	// "gostree " <nil>
	// 8192
}
