package control

import (
	"fmt"
	"os"
	"path/filepath"
)

// maxSunPath is the room for a unix socket path (sun_path less its NUL).
const maxSunPath = 107

// addr is a unix socket address for path that fits sun_path: path itself
// when it is short enough, else the same file reached through an open
// descriptor of its folder (/proc/self/fd/N/name), so that a state file
// deep in a long folder still gets its socket. done closes the folder.
func addr(path string) (a string, done func(), err error) {
	if len(path) <= maxSunPath {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	a = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	if len(a) > maxSunPath {
		dir.Close()
		return "", nil, fmt.Errorf("socket path %s is too long", path)
	}
	return a, func() { dir.Close() }, nil
}
