package integration_test

import (
	"strings"
	"testing"
)

// TestCommitAddMetadataMatchesOstree: --add-metadata values in GVariant text
// format (types inferred as g_variant_parse infers them) give ostree's
// checksums, mixed with --add-metadata-string, and the texts ostree refuses
// are refused.
func TestCommitAddMetadataMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	tr := theTree(t)
	orepo, grepo := newRepo(t, "ostree", "bare-user"), newRepo(t, "gostree", "bare-user")
	values := []string{
		"n=5", "neg=-7", "big=uint64 18446744073709551615", "x=int64 -9223372036854775808", "y=byte 0x7f",
		"q=uint16 65535", "h=handle 3", "d=2.5", "e=1e-3", "inf=inf", "s='text'", "dq=\"it's\"",
		"esc='tab\\there \\u00e9'", "o=objectpath '/org/x'", "g=signature 'a{sv}'", "b=true",
		"arr=[1, 2, 3]", "mixed=[1, 2.5]", "strs=['a', 'b']", "empty=@as []", "bytes=b'raw\\001'",
		"tuple=(1, 'x', [true])", "dict={'a': 1, 'b': 2}", "vdict={'k': <5>, 'l': <'s'>}",
		"entry={'k', 1}", "var=<[1, 2]>", "maybe=just 5", "none=@mi nothing", "nested=[[1], [2, 3]]",
		"typed=@a{sv} {}", "dup=1", "dup='again'", "eq='a=b'", "space=  5  ",
	}
	args := commitArgs("meta")
	args = append(args, "--add-metadata-string=first=1")
	for _, v := range values {
		args = append(args, "--add-metadata="+v)
	}
	args = append(args, "--add-metadata-string=last=z")
	commitBoth(t, orepo, grepo, append(args, tr.dir)...)

	for _, bad := range []string{"d=[]", "d", "=5", "d=nothing", "d=[1, 'a']", "d='unterminated", "d=5 6",
		"d=byte 256", "d=objectpath 'x'", "d={<1>: 2}", "d=bare", "eq=a=b"} {
		a := []string{"-b", "bad", "--add-metadata=" + bad, tr.dir}
		o := ostreeRun(t, append([]string{"commit", "--repo=" + orepo}, a...)...)
		g := gostreeRun(t, append([]string{"commit", "--repo=" + grepo}, a...)...)
		if o.code == 0 || g.code == 0 {
			t.Errorf("--add-metadata=%s: ostree exit %d, gostree exit %d (%s); want both to fail", bad, o.code, g.code, strings.TrimSpace(g.stderr))
		}
	}
	// The messages carry GLib's positions.
	g := gostreeRun(t, "commit", "--repo="+grepo, "-b", "bad", "--add-metadata=d=[]", tr.dir)
	if !strings.Contains(g.stderr, "0-2:unable to infer type") {
		t.Errorf("--add-metadata=d=[]: %q; want GLib's \"0-2:unable to infer type\"", g.stderr)
	}
}
