package prepareroot

import (
	"strconv"
	"strings"
	"time"
)

// parseKmsgRecord splits one /dev/kmsg record, "PRIORITY,SEQ,USEC,FLAGS;text\n"
// followed by " KEY=value" lines, into its timestamp (zero when the USEC
// field is missing or malformed) and the text's first line. ok is false
// when the record has no ";".
func parseKmsgRecord(rec string) (at time.Duration, text string, ok bool) {
	prefix, text, ok := strings.Cut(rec, ";")
	if !ok {
		return 0, "", false
	}
	text, _, _ = strings.Cut(text, "\n")
	if fields := strings.SplitN(prefix, ",", 4); len(fields) >= 3 {
		if us, err := strconv.ParseInt(fields[2], 10, 64); err == nil && us >= 0 && us <= int64(time.Duration(1<<63-1)/time.Microsecond) {
			at = time.Duration(us) * time.Microsecond
		}
	}
	return at, text, true
}

// verityHint is added to an EIO from a file read through the composefs
// mount: under verity=require that is fs-verity refusing the data.
const verityHint = " (fs-verity rejected its data; see the kernel's overlayfs/fs-verity message)"
