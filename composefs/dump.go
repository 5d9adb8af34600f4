package composefs

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Escape flags of composefs-info's print_escaped.
const (
	escStandard  = 0
	escNoSpace   = 1 << 0 // spaces printed as is (ls)
	escEqual     = 1 << 1 // '=' escaped (xattrs)
	escLoneDash  = 1 << 2 // a lone "-" escaped, as "-" means unset
	hexDigitsLow = "0123456789abcdef"
)

func appendEscaped(dst []byte, s []byte, flags int) []byte {
	if flags&escLoneDash != 0 && len(s) == 1 && s[0] == '-' {
		return append(dst, `\x2d`...)
	}
	for _, c := range s {
		switch {
		case c == '\\':
			dst = append(dst, `\\`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '=' && flags&escEqual != 0,
			c == ' ' && flags&escNoSpace == 0,
			c < 0x20 || c > 0x7e:
			dst = append(dst, '\\', 'x', hexDigitsLow[c>>4], hexDigitsLow[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// AppendDumpLine appends e's line in the composefs dump format
// (composefs-dump(5), as `composefs-info dump` prints it), newline included.
func AppendDumpLine(dst []byte, e *Entry) []byte {
	dst = appendEscaped(dst, []byte(e.Path), escStandard)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, e.Size, 10)
	dst = append(dst, ' ')
	if e.Hardlink != "" {
		dst = append(dst, '@')
	}
	dst = strconv.AppendUint(dst, uint64(e.Mode), 8)
	for _, v := range []uint64{uint64(e.Nlink), uint64(e.UID), uint64(e.GID), e.Rdev} {
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, v, 10)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.MtimeSec, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(e.MtimeNsec), 10)
	dst = append(dst, ' ')
	switch {
	case e.Hardlink != "":
		dst = appendEscaped(dst, []byte(e.Hardlink), escLoneDash)
	case e.HasPayload:
		dst = appendEscaped(dst, []byte(e.Payload), escLoneDash)
	default:
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	if e.Content != nil {
		dst = appendEscaped(dst, e.Content, escLoneDash)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	if e.Digest != nil {
		dst = append(dst, e.Digest.String()...)
	} else {
		dst = append(dst, '-')
	}
	for _, x := range e.Xattrs {
		dst = append(dst, ' ')
		dst = appendEscaped(dst, []byte(x.Name), escEqual)
		dst = append(dst, '=')
		dst = appendEscaped(dst, x.Value, escEqual)
	}
	return append(dst, '\n')
}

// Dump writes the text dump of an image (size bytes read from r) to w, line
// for line what `composefs-info dump` prints. Feeding the dump to
// WriteFromDump (or mkcomposefs --from-file) gives the image back.
func Dump(w io.Writer, r io.ReaderAt, size int64) error {
	bw := bufio.NewWriter(w)
	var line []byte
	err := Walk(r, size, func(e *Entry) error {
		line = AppendDumpLine(line[:0], e)
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// List writes the paths of an image to w as `composefs-info ls` does: one
// per line, directories followed by "/", symlinks by "\t-> target", regular
// files with a payload by "\t@ payload".
func List(w io.Writer, r io.ReaderAt, size int64) error {
	bw := bufio.NewWriter(w)
	var line []byte
	err := Walk(r, size, func(e *Entry) error {
		if e.Path == "/" {
			return nil
		}
		line = appendEscaped(line[:0], []byte(e.Path), escNoSpace)
		switch {
		case e.Hardlink != "":
		case e.Mode&sIFMT == sIFDIR:
			line = append(line, "/\t"...)
		case e.Mode&sIFMT == sIFLNK:
			line = append(line, "\t-> "...)
			line = appendEscaped(line, []byte(e.Payload), escStandard)
		case e.Mode&sIFMT == sIFREG && e.HasPayload:
			line = append(line, "\t@ "...)
			line = appendEscaped(line, []byte(e.Payload), escStandard)
		}
		line = append(line, '\n')
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return fmt.Errorf("list composefs image: %w", err)
	}
	return bw.Flush()
}
