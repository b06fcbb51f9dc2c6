//go:build !linux

package plugins

import "os"

// sealedCopy is Linux's (memfd); elsewhere a pinned plugin runs from its
// file, checked before the start and after it (see checkRunning).
func sealedCopy(name, path string) (*os.File, error) { return nil, errNoSealedCopy }
