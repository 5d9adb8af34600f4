package objstore

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/gostree/gostree/gvariant"
)

// offsetSize is the GVariant framing-offset width for a container of n bytes.
func offsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case n <= 0xffffffff:
		return 4
	}
	return 8
}

func readOffset(b []byte) int {
	switch len(b) {
	case 1:
		return int(b[0])
	case 2:
		return int(binary.LittleEndian.Uint16(b))
	case 4:
		return int(binary.LittleEndian.Uint32(b))
	case 8:
		return int(binary.LittleEndian.Uint64(b))
	}
	return -1
}

var errBadHeader = errors.New("malformed file header")

// decodeFileHeaderFast parses a file header (uuuusa(ayay)) with few
// allocations. It checks normal form with gvariant.IsNormal (which does not
// allocate) and then reads the fields directly; anything unexpected falls
// back to the general decoder, so both always agree.
func decodeFileHeaderFast(data []byte) (*Meta, error) {
	if !gvariant.IsNormal(typeFileHeader, data) || len(data) < 17 {
		return decodeFileHeader(data)
	}
	m := &Meta{
		UID:  binary.BigEndian.Uint32(data[0:]),
		GID:  binary.BigEndian.Uint32(data[4:]),
		Mode: binary.BigEndian.Uint32(data[8:]),
	}
	if binary.LittleEndian.Uint32(data[12:]) != 0 {
		return decodeFileHeader(data) // nonzero rdev: let the general path report it
	}
	o := offsetSize(len(data))
	sEnd := readOffset(data[len(data)-o:])
	if sEnd < 17 || sEnd > len(data)-o {
		return nil, errBadHeader
	}
	m.Target = string(data[16 : sEnd-1])
	arr := data[sEnd : len(data)-o]
	if len(arr) > 0 {
		ao := offsetSize(len(arr))
		last := readOffset(arr[len(arr)-ao:])
		if last > len(arr)-ao || (len(arr)-last)%ao != 0 {
			return nil, errBadHeader
		}
		table := arr[last:]
		n := len(table) / ao
		m.Xattrs = make([]Xattr, 0, n)
		start := 0
		for i := 0; i < n; i++ {
			end := readOffset(table[i*ao : (i+1)*ao])
			if end < start || end > last {
				return nil, errBadHeader
			}
			e := arr[start:end]
			eo := offsetSize(len(e))
			if len(e) < eo+1 {
				return nil, errBadHeader
			}
			nameEnd := readOffset(e[len(e)-eo:])
			if nameEnd < 2 || nameEnd > len(e)-eo || e[nameEnd-1] != 0 {
				return nil, errBadHeader
			}
			if bytes.IndexByte(e[:nameEnd-1], 0) >= 0 {
				return decodeFileHeader(data)
			}
			m.Xattrs = append(m.Xattrs, Xattr{Name: string(e[:nameEnd-1]), Value: append([]byte(nil), e[nameEnd:len(e)-eo]...)})
			start = end
		}
		for i := 1; i < len(m.Xattrs); i++ {
			if m.Xattrs[i-1].Name >= m.Xattrs[i].Name {
				return decodeFileHeader(data) // unsorted or duplicate: general path decides
			}
		}
	}
	if err := validateFileMeta(m); err != nil {
		return decodeFileHeader(data)
	}
	if m.IsSymlink() {
		m.Size = int64(len(m.Target))
	}
	return m, nil
}
