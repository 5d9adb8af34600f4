package prepareroot

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelMessages returns the kernel log records (from /dev/kmsg) whose
// text contains one of the given substrings, oldest first, at most max of
// the newest. It reads with raw non-blocking system calls: an *os.File on
// /dev/kmsg would park PID 1 on the runtime poller.
func KernelMessages(substrings []string, max int) []string {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var out []string
	buf := make([]byte, 8192)
	for range 100000 {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EPIPE) {
			continue // a record was overwritten while we read; go on
		}
		if err != nil || n <= 0 {
			break
		}
		rec := string(buf[:n])
		// "PRIORITY,SEQ,USEC,FLAGS;text\n" plus " KEY=value" lines.
		_, text, ok := strings.Cut(rec, ";")
		if !ok {
			continue
		}
		text, _, _ = strings.Cut(text, "\n")
		for _, s := range substrings {
			if strings.Contains(text, s) {
				out = append(out, text)
				break
			}
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}
