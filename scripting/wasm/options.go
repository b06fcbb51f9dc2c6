package wasm

import (
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Defaults of Options.
const (
	// DefaultMemoryLimitPages caps each instance's linear memory at 64 MiB
	// (a page is 64 KiB). A standard Go guest needs a few MiB to start.
	DefaultMemoryLimitPages = 1024
	// DefaultMaxOutputBytes caps the JSON answer of one call.
	DefaultMaxOutputBytes = 10 << 20
	// DefaultMaxInputBytes caps the JSON request of one call.
	DefaultMaxInputBytes = 10 << 20
	// DefaultLoadTimeout bounds starting a module's first instance and its
	// describe call at load time.
	DefaultLoadTimeout = 30 * time.Second
)

// Options configure a Runtime. The zero value works, except that ModulesDir
// must be set for Load to find anything.
type Options struct {
	// ModulesDir holds the modules: every *.wasm file directly in it is loaded,
	// under its file name without the extension. Subdirectories are ignored.
	ModulesDir string
	// CacheDir is where compiled code is cached across restarts (wazero's
	// compilation cache). Default: weft/wasm under the user's cache directory;
	// "-" keeps the cache in memory only.
	CacheDir string
	// MemoryLimitPages caps every instance's memory, in 64 KiB pages. Default
	// DefaultMemoryLimitPages.
	MemoryLimitPages uint32
	// MaxInstances caps the live instances of one module, and so the calls of
	// one module that run at once; further calls wait for an instance.
	// Default runtime.GOMAXPROCS(0).
	MaxInstances int
	// MaxInputBytes caps the request of one call. Default DefaultMaxInputBytes.
	MaxInputBytes int
	// MaxOutputBytes caps the answer of one call. Default DefaultMaxOutputBytes.
	MaxOutputBytes int
	// LoadTimeout bounds starting a module's first instance and describing it
	// at load time (compiling is not bounded). Default DefaultLoadTimeout.
	LoadTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			o.CacheDir = filepath.Join(dir, "weft", "wasm")
		} else {
			o.CacheDir = "-"
		}
	}
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = runtime.GOMAXPROCS(0)
	}
	if o.MaxInputBytes <= 0 {
		o.MaxInputBytes = DefaultMaxInputBytes
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	return o
}
