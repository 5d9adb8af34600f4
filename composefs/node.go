package composefs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Unix file types (st_mode & S_IFMT), spelled out so the format code does not
// depend on the host's syscall package.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// Limits libcomposefs enforces; an input beyond them is refused, as
// mkcomposefs and ostree refuse it.
const (
	// maxNameLen is the longest directory entry name (LCFS_MAX_NAME_LENGTH).
	maxNameLen = 255
	// maxXattrNameLen is the longest xattr name (XATTR_NAME_MAX).
	maxXattrNameLen = 255
	// maxXattrValueLen is the largest xattr value (EROFS e_value_size is u16).
	maxXattrValueLen = 65535
	// maxInodeXattrs bounds one inode's xattrs as libcomposefs accounts them
	// (LCFS_INODE_EXTERNAL_XATTR_MAX): 12 + Σ(7 + len(name) + len(value)).
	maxInodeXattrs = 65535 / 2
	// maxPayloadLen is the longest payload (redirect or symlink target):
	// shorter than PATH_MAX.
	maxPayloadLen = 4095
	// MaxInlineContent is the largest regular file an image may store inline
	// (LCFS_INLINE_CONTENT_MAX). Raising it changes the image layout rules.
	MaxInlineContent = 5000
	// maxExternalChunks is the largest chunk table of an external file
	// (LCFS_MAX_NONINLINE_CHUNKS); it bounds file sizes to 2^43·1024 bytes.
	maxExternalChunks = 1024
)

type xattr struct {
	name  string
	value []byte
}

// node is one inode (or hardlink entry) of the tree an image is built from,
// the equivalent of libcomposefs's lcfs_node.
type node struct {
	// Fields holding pointers come first, so the garbage collector scans
	// only this part of a node.
	name     string
	parent   *node
	children []*node // sorted by name (bytes); "." and ".." after rewrite
	link     *node   // hardlink target; a link node carries no other data
	xattrs   []xattr
	payload  string
	content  []byte  // inline content, nil for none
	inline   []xattr // layout: xattrs stored in the inode, sorted
	shared   []int   // layout: indexes into the shared table, in name order

	mode       uint32
	uid, gid   uint32
	nlink      uint32
	size       uint64
	rdev       uint64
	mtimeSec   int64
	mtimeNsec  uint32
	hasPayload bool
	digest     [32]byte
	hasDigest  bool

	// Layout, filled in by the writer.
	ino       uint32
	nid       uint64
	compact   bool
	nblocks   uint64
	tail      uint64
	xattrSize uint64
	ipad      uint64
	nshared   int // len(shared) (== xattrs referenced through the table)
}

func (n *node) typ() uint32 { return n.mode & sIFMT }
func (n *node) isDir() bool { return n.typ() == sIFDIR }

// target follows hardlinks to the inode.
func (n *node) target() *node {
	for n.link != nil {
		n = n.link
	}
	return n
}

func newNode(mode uint32) *node { return &node{mode: mode, nlink: 1} }

// lookup finds a child by name.
func (n *node) lookup(name string) *node {
	i, ok := slices.BinarySearchFunc(n.children, name, func(c *node, s string) int { return strings.Compare(c.name, s) })
	if !ok {
		return nil
	}
	return n.children[i]
}

// addChild inserts c under n in name order.
func (n *node) addChild(c *node, name string) error {
	if !n.isDir() {
		return errors.New("not a directory")
	}
	if err := validName(name); err != nil {
		return err
	}
	// Inputs arrive in name order (dirtrees and ReadDir are sorted), so the
	// common case is an append.
	if k := len(n.children); k == 0 || n.children[k-1].name < name {
		c.name, c.parent = name, n
		n.children = append(n.children, c)
		return nil
	}
	i, ok := slices.BinarySearchFunc(n.children, name, func(c *node, s string) int { return strings.Compare(c.name, s) })
	if ok {
		return fmt.Errorf("%q: duplicate name", name)
	}
	c.name, c.parent = name, n
	n.children = slices.Insert(n.children, i, c)
	return nil
}

// addDotChild inserts "." or ".." (link nodes) without name validation.
func (n *node) addDotChild(c *node, name string) {
	i, _ := slices.BinarySearchFunc(n.children, name, func(c *node, s string) int { return strings.Compare(c.name, s) })
	c.name, c.parent = name, n
	n.children = slices.Insert(n.children, i, c)
}

// validName reports whether name can be a directory entry: non-empty, at
// most 255 bytes, no '/' or NUL, not "." or "..".
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty file name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid file name %q", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("file name %.32q... is %d bytes, longer than %d", name, len(name), maxNameLen)
	case strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("invalid file name %q: contains '/' or NUL", name)
	}
	return nil
}

// validMode accepts the seven Unix file types.
func validMode(mode uint32) error {
	switch mode & sIFMT {
	case sIFREG, sIFDIR, sIFLNK, sIFBLK, sIFCHR, sIFSOCK, sIFIFO:
		return nil
	}
	return fmt.Errorf("invalid file mode %#o", mode)
}

func (n *node) xattrIndex(name string) int {
	for i := range n.xattrs {
		if n.xattrs[i].name == name {
			return i
		}
	}
	return -1
}

// setXattr sets or replaces an xattr, as lcfs_node_set_xattr does.
func (n *node) setXattr(name string, value []byte) error {
	if name == "" || len(name) > maxXattrNameLen || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("invalid xattr name %.64q", name)
	}
	if len(value) > maxXattrValueLen {
		return fmt.Errorf("xattr %s: value of %d bytes is larger than %d", name, len(value), maxXattrValueLen)
	}
	if i := n.xattrIndex(name); i >= 0 {
		n.xattrs = slices.Delete(n.xattrs, i, i+1)
	}
	n.xattrs = append(n.xattrs, xattr{name: name, value: value})
	return nil
}

// xattrBudget is libcomposefs's accounting of an inode's xattr space.
func (n *node) xattrBudget() int {
	if len(n.xattrs) == 0 {
		return 0
	}
	s := 12
	for _, x := range n.xattrs {
		s += 7 + len(x.name) + len(x.value)
	}
	return s
}

func (n *node) setPayload(p string) error {
	if len(p) > maxPayloadLen {
		return fmt.Errorf("payload of %d bytes is longer than %d", len(p), maxPayloadLen)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return errors.New("payload contains NUL")
	}
	n.payload, n.hasPayload = p, true
	return nil
}

// validate checks a non-link node before it is written (lcfs_node_validate
// plus the checks lcfs_node_set_* make).
func (n *node) validate() error {
	if n.link != nil {
		return nil
	}
	if err := validMode(n.mode); err != nil {
		return err
	}
	switch n.typ() {
	case sIFREG:
		if n.content != nil && uint64(len(n.content)) != n.size {
			return fmt.Errorf("inline content is %d bytes, file size %d", len(n.content), n.size)
		}
		if len(n.content) > MaxInlineContent {
			return fmt.Errorf("inline content of %d bytes is larger than %d", len(n.content), MaxInlineContent)
		}
		if n.size > 0 && n.content == nil {
			if _, count := chunking(n.size); count > maxExternalChunks {
				return fmt.Errorf("file size %d is too large for a composefs image", n.size)
			}
		}
	case sIFLNK:
		if !n.hasPayload || n.payload == "" {
			return errors.New("symlink without a target")
		}
	}
	if n.typ() != sIFDIR && len(n.children) > 0 {
		return errors.New("only directories have children")
	}
	return nil
}
