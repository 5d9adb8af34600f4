package prepareroot

import (
	"errors"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// KernelMessages returns the kernel log records (from /dev/kmsg) whose
// text contains one of the given substrings, oldest first, at most max of
// the newest. It reads with raw non-blocking system calls: an *os.File on
// /dev/kmsg would park PID 1 on the runtime poller.
func KernelMessages(substrings []string, max int) []string {
	var out []string
	scanKernelLog(func(_ time.Duration, text string) bool {
		for _, s := range substrings {
			if strings.Contains(text, s) {
				out = append(out, text)
				break
			}
		}
		return true
	})
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// kernelMessageTime returns the timestamp (time since boot) of the first
// kernel log record containing substring.
func kernelMessageTime(substring string) (time.Duration, bool) {
	var at time.Duration
	found := false
	scanKernelLog(func(t time.Duration, text string) bool {
		if strings.Contains(text, substring) {
			at, found = t, true
			return false
		}
		return true
	})
	return at, found
}

// scanKernelLog calls f with each record of /dev/kmsg, oldest first, until
// f returns false or the log ends.
func scanKernelLog(f func(at time.Duration, text string) bool) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	buf := make([]byte, 8192)
	for range 100000 {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EPIPE) {
			continue // a record was overwritten while we read; go on
		}
		if err != nil || n <= 0 {
			return
		}
		at, text, ok := parseKmsgRecord(string(buf[:n]))
		if ok && !f(at, text) {
			return
		}
	}
}
