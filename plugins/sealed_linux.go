//go:build linux

package plugins

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealedCopy returns a sealed in-memory copy of the binary at path: a Linux
// memfd to which nothing can write any more. A pinned plugin runs from it,
// so the bytes checked against its checksum are the bytes that run,
// whatever happens to the file in between. It costs the binary's size in
// memory while the process runs. errNoSealedCopy means the kernel refused a
// memfd (a sandbox may): the caller runs the file itself.
func sealedCopy(name, path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("weft-plugin-"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, errNoSealedCopy
	}
	f := os.NewFile(uintptr(fd), "memfd:weft-plugin-"+name)
	if _, err := io.Copy(f, src); err != nil {
		_ = f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}
