package main

import "testing"

// Expected strings were printed by GLib 2.74 (g_variant_print of an "ay").
func TestFormatBytesMatchesGLib(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"a\x01b\x00", `b'a\001b'`},
		{"caf\xc3\xa9\x00", `b'caf\303\251'`},
		{"it's\x00", `b"it's"`},
		{"q\"\x00", `b'q\"'`},
		{"both'\"\x00", `b"both'\""`},
		{"\x7f\x00", `b'\177'`},
		{"tab\tx\x00", `b'tab\tx'`},
		{"", `[]`},
		{"ab", `[0x61, 0x62]`},
	}
	for _, tt := range tests {
		if got := formatBytes([]byte(tt.in), false); got != tt.want {
			t.Errorf("formatBytes(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := formatBytes([]byte("ab"), true); got != `[byte 0x61, 0x62]` {
		t.Errorf("annotated = %s", got)
	}
}
