package prepareroot

import (
	"bytes"
	"sync"
	"testing"

	"github.com/gostree/gostree/gvariant"
)

var commitType = sync.OnceValue(func() *gvariant.Type { return gvariant.MustParseType("(a{sv}aya(say)sstayay)") })

func encodeCommit(t testing.TB, md []any, body string) []byte {
	t.Helper()
	raw, err := gvariant.Encode(commitType(), []any{md, []byte{}, []any{}, "subject", body, uint64(0), make([]byte, 32), make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// decodedMetadataValue is metadataValue through the generic decoder.
func decodedMetadataValue(raw []byte, key string) (sig string, value []byte, found, ok bool) {
	v, err := gvariant.Decode(commitType(), raw)
	if err != nil {
		return "", nil, false, false
	}
	for _, e := range v.([]any)[0].([]any) {
		de := e.(gvariant.DictEntry)
		if de.Key != key {
			continue
		}
		vv := de.Value.(gvariant.Variant)
		b, err := gvariant.Encode(vv.Type, vv.Value)
		if err != nil {
			return "", nil, false, false
		}
		return vv.Type.String(), b, true, true
	}
	return "", nil, false, true
}

func TestMetadataValue(t *testing.T) {
	digest := bytes.Repeat([]byte{0xcd}, 32)
	big := string(bytes.Repeat([]byte("x"), 70000)) // 4-byte framing offsets
	for _, tc := range []struct {
		name string
		md   []any
		body string
		key  string
		sig  string
		want []byte
	}{
		{"empty metadata", []any{}, "", composefsDigestKey, "", nil},
		{"digest", []any{gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)}}, "", composefsDigestKey, "ay", digest},
		{"digest after others", []any{
			gvariant.DictEntry{Key: "version", Value: gvariant.NewVariant("s", "42")},
			gvariant.DictEntry{Key: "ostree.bootable", Value: gvariant.NewVariant("b", true)},
			gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)},
		}, "", composefsDigestKey, "ay", digest},
		{"first of two wins", []any{
			gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest[:3])},
			gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)},
		}, "", composefsDigestKey, "ay", digest[:3]},
		{"other key", []any{gvariant.DictEntry{Key: "version", Value: gvariant.NewVariant("s", "42")}}, "", "version", "s", []byte("42\x00")},
		{"absent", []any{gvariant.DictEntry{Key: "version", Value: gvariant.NewVariant("s", "42")}}, "", composefsDigestKey, "", nil},
		{"wide offsets", []any{
			gvariant.DictEntry{Key: "big", Value: gvariant.NewVariant("s", big)},
			gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)},
		}, big, composefsDigestKey, "ay", digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := encodeCommit(t, tc.md, tc.body)
			sig, val, found, err := metadataValue(raw, tc.key)
			if err != nil || found != (tc.want != nil) || sig != tc.sig || !bytes.Equal(val, tc.want) {
				t.Fatalf("metadataValue = %q %x %v %v; want %q %x", sig, val, found, err, tc.sig, tc.want)
			}
		})
	}
	for _, bad := range [][]byte{{1}, {0, 0, 0, 0, 0, 7}, bytes.Repeat([]byte{0xff}, 40)} {
		if _, _, _, err := metadataValue(bad, composefsDigestKey); err == nil {
			t.Errorf("metadataValue(%x) accepted it", bad)
		}
	}
}

// FuzzMetadataValue: wherever the generic decoder accepts a commit, the
// boot-time walker finds the same value; it never panics on anything.
func FuzzMetadataValue(f *testing.F) {
	digest := bytes.Repeat([]byte{0xcd}, 32)
	f.Add(encodeCommit(f, []any{}, ""), composefsDigestKey)
	f.Add(encodeCommit(f, []any{
		gvariant.DictEntry{Key: "version", Value: gvariant.NewVariant("s", "42")},
		gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)},
	}, "body"), composefsDigestKey)
	f.Add(encodeCommit(f, []any{gvariant.DictEntry{Key: "a", Value: gvariant.NewVariant("(tt)", []any{uint64(1), uint64(2)})}}, ""), "a")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		sig, val, found, err := metadataValue(raw, key)
		wsig, wval, wfound, ok := decodedMetadataValue(raw, key)
		if !ok {
			return // not a commit the decoder accepts: only no panic
		}
		if err != nil || found != wfound || sig != wsig || !bytes.Equal(val, wval) {
			t.Fatalf("metadataValue(%x, %q) = %q %x %v %v; decoder: %q %x %v", raw, key, sig, val, found, err, wsig, wval, wfound)
		}
	})
}

func TestBootedInfoMarshal(t *testing.T) {
	for _, b := range []bootedInfo{
		{},
		{dev: 0x10302, ino: 1 << 40, composefs: true, composefsVerity: true, sysrootRO: true},
		{dev: 7, ino: 9, composefs: true, signed: "/etc/ostree/initramfs-root-binding.key"},
		{signed: string(bytes.Repeat([]byte("k"), 300))}, // 2-byte framing offsets
		{signed: string(bytes.Repeat([]byte("k"), 70000))},
	} {
		dict := []any{
			gvariant.DictEntry{Key: "backing-root-device-inode", Value: gvariant.NewVariant("(tt)", []any{b.dev, b.ino})},
			gvariant.DictEntry{Key: "composefs", Value: gvariant.NewVariant("b", b.composefs)},
			gvariant.DictEntry{Key: "composefs.verity", Value: gvariant.NewVariant("b", b.composefsVerity)},
		}
		if b.signed != "" {
			dict = append(dict, gvariant.DictEntry{Key: "composefs.signed", Value: gvariant.NewVariant("s", b.signed)})
		}
		dict = append(dict, gvariant.DictEntry{Key: "sysroot-ro", Value: gvariant.NewVariant("b", b.sysrootRO)})
		want, err := gvariant.Encode(metaType(), dict)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.marshal(); !bytes.Equal(got, want) {
			t.Errorf("marshal(%+v):\n got %x\nwant %x", b, got[:min(len(got), 200)], want[:min(len(want), 200)])
		}
	}
}
