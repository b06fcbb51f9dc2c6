// Package wasmtest helps tests that load WASM modules: they share one
// on-disk compilation cache, so that a module compiled once (tens of seconds
// for a Go guest under -race) is not compiled again by every test package
// or every run. wazero writes cache entries atomically, and keys them by its
// version and the module's content, so packages running at once and
// changed guests are safe. Build guests with -trimpath: a Go module's bytes
// otherwise hold the path it was built in, and every clone would miss.
package wasmtest

import (
	"os"
	"path/filepath"
	"strconv"
)

// CacheDir is the tests' shared compilation cache, in the temporary
// directory (not the user's cache, which `weft serve` uses).
func CacheDir() string {
	return filepath.Join(os.TempDir(), "weft-test-wasm-cache-"+strconv.Itoa(os.Getuid()))
}
