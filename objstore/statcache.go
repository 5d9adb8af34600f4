package objstore

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// statCacheMagic starts a stat cache file; changing the layout must change it.
const statCacheMagic = "gostree-statcache-v1\n"

// statCache maps a file (by path relative to the committed directory) to the
// content checksum it had, as long as its device, inode, size, mtime and
// ctime are unchanged. ctime moves on every content, mode, owner or xattr
// change, so a hit proves the file's metadata and data are as recorded.
// The cache lives in tmp/cache/ of the repository, one file per source
// directory and modifier; it is an optimisation only.
type statCache struct {
	path string
	old  map[string]statEntry
	mu   sync.Mutex
	new  map[string]statEntry
}

type statEntry struct {
	dev, ino         uint64
	size             int64
	mtimeNs, ctimeNs int64
	id               ID
}

func entryOf(st *unix.Stat_t, id ID) statEntry {
	return statEntry{dev: st.Dev, ino: st.Ino, size: st.Size,
		mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano(), id: id}
}

func (r *Repo) loadStatCache(source, fingerprint string) *statCache {
	key := sha256.Sum256([]byte(source + "\x00" + fingerprint))
	c := &statCache{
		path: filepath.Join(r.path, "tmp", "cache", "gostree-statcache-"+hex.EncodeToString(key[:8])),
		old:  map[string]statEntry{},
		new:  map[string]statEntry{},
	}
	if err := c.load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Debug("ignore unreadable stat cache", "path", c.path, "err", err)
		c.old = map[string]statEntry{}
	}
	return c
}

func (c *statCache) has(rel string) bool {
	_, ok := c.old[rel]
	return ok
}

func (c *statCache) lookup(rel string, st *unix.Stat_t) (ID, bool) {
	e, ok := c.old[rel]
	if !ok {
		return ID{}, false
	}
	if e != entryOf(st, e.id) {
		return ID{}, false
	}
	return e.id, true
}

func (c *statCache) keep(rel string, st *unix.Stat_t, id ID) {
	c.mu.Lock()
	c.new[rel] = entryOf(st, id)
	c.mu.Unlock()
}

func (c *statCache) load() error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(statCacheMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != statCacheMagic {
		return fmt.Errorf("bad stat cache header")
	}
	var fixed [8*5 + 32]byte
	for {
		n, err := binary.ReadUvarint(br)
		if err == io.EOF {
			return nil
		}
		if err != nil || n > 1<<16 {
			return fmt.Errorf("corrupt stat cache")
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return fmt.Errorf("corrupt stat cache: %w", err)
		}
		if _, err := io.ReadFull(br, fixed[:]); err != nil {
			return fmt.Errorf("corrupt stat cache: %w", err)
		}
		e := statEntry{
			dev: binary.LittleEndian.Uint64(fixed[0:]), ino: binary.LittleEndian.Uint64(fixed[8:]),
			size: int64(binary.LittleEndian.Uint64(fixed[16:])), mtimeNs: int64(binary.LittleEndian.Uint64(fixed[24:])),
			ctimeNs: int64(binary.LittleEndian.Uint64(fixed[32:])),
		}
		copy(e.id[:], fixed[40:])
		c.old[string(name)] = e
	}
}

// save writes the entries seen in this commit. Entries whose mtime or ctime
// is not safely before start are left out: a file changed again within the
// clock's granularity could otherwise keep a stale checksum ("racy" entries,
// as git calls them).
func (c *statCache) save(start time.Time) error {
	limit := start.Add(-2 * time.Second).UnixNano()
	if err := os.MkdirAll(filepath.Dir(c.path), 0o777); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".statcache-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<16)
	bw.WriteString(statCacheMagic)
	var fixed [8*5 + 32]byte
	var lenbuf [binary.MaxVarintLen64]byte
	c.mu.Lock()
	for name, e := range c.new {
		if e.mtimeNs >= limit || e.ctimeNs >= limit {
			continue
		}
		bw.Write(lenbuf[:binary.PutUvarint(lenbuf[:], uint64(len(name)))])
		bw.WriteString(name)
		binary.LittleEndian.PutUint64(fixed[0:], e.dev)
		binary.LittleEndian.PutUint64(fixed[8:], e.ino)
		binary.LittleEndian.PutUint64(fixed[16:], uint64(e.size))
		binary.LittleEndian.PutUint64(fixed[24:], uint64(e.mtimeNs))
		binary.LittleEndian.PutUint64(fixed[32:], uint64(e.ctimeNs))
		copy(fixed[40:], e.id[:])
		bw.Write(fixed[:])
	}
	c.mu.Unlock()
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.path)
}
