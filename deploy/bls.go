package deploy

import (
	"fmt"
	"strings"
)

// blsEntry is a Boot Loader Specification entry: ordered "key value" lines.
type blsEntry struct {
	keys []string
	vals []string
}

func parseBLS(text string) *blsEntry {
	e := &blsEntry{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		e.keys = append(e.keys, k)
		e.vals = append(e.vals, strings.TrimSpace(v))
	}
	return e
}

func (e *blsEntry) get(key string) string {
	for i, k := range e.keys {
		if k == key {
			return e.vals[i]
		}
	}
	return ""
}

func (e *blsEntry) add(key, val string) {
	e.keys = append(e.keys, key)
	e.vals = append(e.vals, val)
}

// String renders the entry as ostree writes it: "key value\n" per line.
func (e *blsEntry) String() string {
	var b strings.Builder
	for i, k := range e.keys {
		fmt.Fprintf(&b, "%s %s\n", k, e.vals[i])
	}
	return b.String()
}
