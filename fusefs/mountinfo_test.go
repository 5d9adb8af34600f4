//go:build linux

package fusefs

import (
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	const mi = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:45 / /tmp/with\040space rw,nosuid,nodev,relatime shared:20 - fuse.gostree gostree:abc ro,user_id=0
41 22 0:46 / /mnt rw - tmpfs tmpfs rw
42 41 0:47 / /mnt rw - fuse.gostree gostree rw
`
	for _, tc := range []struct {
		dir    string
		fstype string
		ok     bool
	}{
		{"/", "ext4", true},
		{"/tmp/with space", "fuse.gostree", true},
		{"/tmp/with\\040space", "", false},
		{"/mnt", "fuse.gostree", true},
		{"/mnt/x", "", false},
	} {
		fstype, ok := parseMountinfo(strings.NewReader(mi), tc.dir)
		if ok != tc.ok || (ok && fstype != tc.fstype) {
			t.Errorf("parseMountinfo(%q) = %q, %v; want %q, %v", tc.dir, fstype, ok, tc.fstype, tc.ok)
		}
	}
}
