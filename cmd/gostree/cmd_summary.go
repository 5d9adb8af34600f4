package main

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
)

func newSummaryCmd(a *app) *cobra.Command {
	var update, view, raw bool
	var gpgSign []string
	var gpgHomedir string
	var add []string
	cmd := &cobra.Command{
		Use:   "summary (-u [-m KEY=VALUE]... | --view | --raw)",
		Short: "Update or show the repository summary (refs for pull clients)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			if !update && !view && !raw {
				return usagef("summary: no option specified; use -u to update the summary, --view or --raw to show it")
			}
			if update {
				var md objstore.Metadata
				for _, kv := range add {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return usagef("summary: --add-metadata needs KEY=VALUE, got %q", kv)
					}
					val, err := parseVariantText(v)
					if err != nil {
						return usagef("summary: --add-metadata %s: %v", k, err)
					}
					md.Set(k, val)
				}
				if _, err := repo.UpdateSummary(ctx, &objstore.SummaryOptions{Metadata: md}); err != nil {
					return err
				}
				if len(gpgSign) > 0 {
					if err := gpgSignSummary(ctx, repo, gpgSign, gpgHomedir); err != nil {
						return err
					}
				}
			}
			if view || raw {
				s, err := repo.ReadSummary(ctx)
				if err != nil {
					return err
				}
				data, err := s.Encode()
				if err != nil {
					return err
				}
				return writeSummary(a.stdout, s, data, raw)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&update, "update", "u", false, "update the summary")
	f.StringArrayVar(&gpgSign, "gpg-sign", nil, "GPG key ID to sign the summary with (repeatable; writes summary.sig)")
	f.StringVar(&gpgHomedir, "gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	f.BoolVar(&view, "view", false, "view the local summary file (ostree's -v; here -v is --verbose)")
	f.BoolVar(&raw, "raw", false, "view the raw GVariant of the summary file")
	f.StringArrayVarP(&add, "add-metadata", "m", nil, "additional metadata KEY=VALUE, VALUE in GVariant text format (e.g. \"'text'\", 5, true)")
	return cmd
}

// parseVariantText parses a metadata value in GVariant text format, with
// the type inferred as g_variant_parse does (5 is an int32, 'x' a string,
// uint64 5 a uint64, [1, 2.5] an array of doubles).
func parseVariantText(s string) (gvariant.Variant, error) {
	v, err := gvariant.Parse(s)
	if err != nil {
		var pe *gvariant.ParseError
		if errors.As(err, &pe) {
			// ostree shows GLib's message: "START-END:message".
			return gvariant.Variant{}, errors.New(strings.TrimPrefix(pe.Error(), "gvariant: "))
		}
		return gvariant.Variant{}, err
	}
	return v, nil
}

var typeSummary = gvariant.MustParseType("(a(s(taya{sv}))a{sv})")

// writeSummary prints a summary as `ostree summary --view` does, or with
// raw the whole GVariant, byte-swapped as ostree's --raw prints it.
func writeSummary(w io.Writer, s *objstore.Summary, data []byte, raw bool) error {
	if raw {
		v, err := gvariant.Decode(typeSummary, data)
		if err != nil {
			return err
		}
		// ostree prints g_variant_print(value, TRUE); a variant's content
		// is printed that way between its angle brackets.
		boxed := gvariant.Print(gvariant.MustParseType("v"), gvariant.Variant{Type: typeSummary, Value: byteswap(typeSummary, v)})
		_, err = fmt.Fprintln(w, strings.TrimSuffix(strings.TrimPrefix(boxed, "<"), ">"))
		return err
	}
	writeRefs := func(collection string, refs []objstore.SummaryRef) {
		for _, r := range refs {
			if collection == "" {
				fmt.Fprintf(w, "* %s\n", r.Name)
			} else {
				fmt.Fprintf(w, "* (%s, %s)\n", collection, r.Name)
			}
			fmt.Fprintf(w, "    Latest Commit (%s):\n", formatSize(r.CommitSize))
			fmt.Fprintf(w, "      %s\n", r.Commit)
			for _, e := range r.Metadata {
				switch e.Key {
				case objstore.SummaryRefKeyTimestamp:
					fmt.Fprintf(w, "    Timestamp (%s): %s\n", e.Key, formatBETime(e.Value))
				case objstore.SummaryRefKeyVersion:
					v, _ := e.Value.Value.(string)
					fmt.Fprintf(w, "    Version (%s): %s\n", e.Key, v)
				default:
					fmt.Fprintf(w, "    %s: %s\n", e.Key, gvariant.Print(e.Value.Type, e.Value.Value))
				}
			}
			fmt.Fprintln(w)
		}
	}
	writeRefs(s.CollectionID(), s.Refs)
	colls, err := s.CollectionRefs()
	if err != nil {
		return err
	}
	for _, e := range s.Metadata {
		if e.Key != objstore.SummaryKeyCollectionMap {
			continue
		}
		for _, de := range e.Value.Value.([]any) {
			id := de.(gvariant.DictEntry).Key.(string)
			writeRefs(id, colls[id])
		}
	}
	for _, e := range s.Metadata {
		var pretty, val string
		switch e.Key {
		case objstore.SummaryKeyStaticDeltas:
			pretty, val = "Static Deltas", gvariant.Print(e.Value.Type, e.Value.Value)
		case objstore.SummaryKeyLastModified:
			pretty, val = "Last-Modified", formatBETime(e.Value)
		case objstore.SummaryKeyExpires:
			pretty, val = "Expires", formatBETime(e.Value)
		case objstore.SummaryKeyCollectionID:
			pretty, _ = "Collection ID", ""
			val, _ = e.Value.Value.(string)
		case objstore.SummaryKeyCollectionMap:
			pretty, val = "Collection Map", "(printed above)"
		case objstore.SummaryKeyMode:
			pretty = "Repository Mode"
			m, _ := e.Value.Value.(string)
			if _, err := objstore.ParseMode(m); err != nil {
				val = fmt.Sprintf("Invalid (‘%s’)", m)
			} else {
				val = m
			}
		case objstore.SummaryKeyTombstoneCommits:
			pretty, val = "Has Tombstone Commits", "No"
			if b, _ := e.Value.Value.(bool); b {
				val = "Yes"
			}
		default:
			val = gvariant.Print(e.Value.Type, e.Value.Value)
		}
		if pretty != "" {
			fmt.Fprintf(w, "%s (%s): %s\n", pretty, e.Key, val)
		} else {
			fmt.Fprintf(w, "%s: %s\n", e.Key, val)
		}
	}
	return nil
}

// formatBETime prints a big-endian "t" of Unix seconds in local time as
// ostree does (%FT%T%:::z).
func formatBETime(v gvariant.Variant) string {
	ts, ok := v.Value.(uint64)
	if !ok {
		return "invalid"
	}
	ts = bits.ReverseBytes64(ts)
	if ts > 1<<62 {
		return "invalid"
	}
	t := time.Unix(int64(ts), 0).Local()
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	zone := fmt.Sprintf("%c%02d", sign, off/3600)
	if m := off % 3600 / 60; m != 0 {
		zone += fmt.Sprintf(":%02d", m)
	}
	return t.Format("2006-01-02T15:04:05") + zone
}

// formatSize is GLib's g_format_size: "N bytes" ("1 byte") below 1000,
// else SI units with one decimal after a no-break space, as GLib 2.74
// prints them ("1.2\u00a0MB").
func formatSize(n uint64) string {
	if n < 1000 {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n)
	for _, u := range units {
		v /= 1000
		if v < 1000 {
			return fmt.Sprintf("%.1f\u00a0%s", v, u)
		}
	}
	return fmt.Sprintf("%.1f\u00a0EB", v)
}

// byteswap swaps the byte order of every integer in v, as ostree's --raw
// output shows OSTree data (GLib's g_variant_byteswap).
func byteswap(t *gvariant.Type, v any) any {
	switch x := v.(type) {
	case uint16:
		return bits.ReverseBytes16(x)
	case int16:
		return int16(bits.ReverseBytes16(uint16(x)))
	case uint32:
		return bits.ReverseBytes32(x)
	case int32:
		return int32(bits.ReverseBytes32(uint32(x)))
	case uint64:
		return bits.ReverseBytes64(x)
	case int64:
		return int64(bits.ReverseBytes64(uint64(x)))
	case gvariant.Variant:
		return gvariant.Variant{Type: x.Type, Value: byteswap(x.Type, x.Value)}
	case gvariant.DictEntry:
		return gvariant.DictEntry{Key: byteswap(t.Field(0), x.Key), Value: byteswap(t.Field(1), x.Value)}
	case gvariant.Maybe:
		if x.Valid {
			return gvariant.Just(byteswap(t.Elem(), x.Value))
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			et := t.Elem()
			if t.Kind() == '(' {
				et = t.Field(i)
			}
			out[i] = byteswap(et, e)
		}
		return out
	}
	return v
}
