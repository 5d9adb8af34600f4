package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxModuleSize bounds a decompressed module: the largest in-tree modules
// are tens of MiB, so more than this is a corrupt or hostile file.
const maxModuleSize = 512 << 20

// decompressModule returns a compressed module (.ko.xz, .ko.zst, .ko.gz)
// decompressed and its name without the compression suffix; other files
// are returned as they are. The result must be an ELF file, as every
// kernel module is.
func decompressModule(name string, data []byte) ([]byte, string, error) {
	var (
		r   io.Reader
		err error
	)
	switch {
	case strings.HasSuffix(name, ".ko.xz"):
		r, err = xz.NewReader(bytes.NewReader(data))
	case strings.HasSuffix(name, ".ko.zst"):
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxModuleSize))
		if err == nil {
			defer d.Close()
			r = d
		}
	case strings.HasSuffix(name, ".ko.gz"):
		var z *gzip.Reader
		if z, err = gzip.NewReader(bytes.NewReader(data)); err == nil {
			z.Multistream(true)
			r = z
		}
	default:
		return data, name, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("decompress module %s: %w", name, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("decompress module %s: %w", name, err)
	}
	if len(out) > maxModuleSize {
		return nil, "", fmt.Errorf("decompress module %s: more than %d MiB", name, maxModuleSize>>20)
	}
	if !bytes.HasPrefix(out, []byte("\x7fELF")) {
		return nil, "", fmt.Errorf("decompress module %s: %w", name, errNotELF)
	}
	return out, name[:strings.LastIndexByte(name, '.')], nil
}

var errNotELF = errors.New("not an ELF file, so not a kernel module")
