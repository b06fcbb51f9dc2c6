// Package wasmtest helps tests that load WASM modules: they share one
// on-disk compilation cache, so that a module compiled once (tens of seconds
// for a Go guest under -race) is not compiled again by every test package
// or every run. wazero writes cache entries atomically, and keys them by its
// version and the module's content, so packages running at once and
// changed guests are safe. Build guests with -trimpath: a Go module's bytes
// otherwise hold the path it was built in, and every clone would miss.
package wasmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
)

// CacheDir is the tests' shared compilation cache, in the temporary
// directory (not the user's cache, which `weft serve` uses).
func CacheDir() string {
	return filepath.Join(os.TempDir(), "weft-test-wasm-cache-"+strconv.Itoa(os.Getuid()))
}

// Build builds the Go guest package pkg (a path as `go build` takes it,
// relative to the test's directory) into the module file out, as
// docs/scripting.md says a guest is built, with -trimpath so that its bytes
// do not depend on where the repository is.
func Build(pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the guest %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// BuildAll builds guests (module name → package) into dir as NAME.wasm, at
// once, and returns every failure.
func BuildAll(guests map[string]string, dir string) error {
	errs := make(chan error, len(guests))
	var wg sync.WaitGroup
	for name, pkg := range guests {
		wg.Go(func() { errs <- Build(pkg, filepath.Join(dir, name+".wasm")) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
