package fusefs

import "syscall"

// errNoAttr is what getxattr returns for a missing attribute.
const errNoAttr = syscall.ENODATA
