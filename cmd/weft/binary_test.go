package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
)

// The weft binary the tests run as a real process is built once per test
// process, however many tests ask for it and however many run in parallel:
// one `go build` of this package instead of one per test.
var weftBin struct {
	once sync.Once
	dir  string // removed by TestMain when every test has run
	path string
	err  error
}

// weftBinary returns the path of the weft binary built from this package's
// sources, building it on first use. It is built with -race when the tests
// are, so a data race in a worker or server process fails the run too (and
// the race build reuses the packages `go test -race` has just compiled);
// TestMain spares its processes the race runtime's second of sleep at exit.
func weftBinary(t testing.TB) string {
	t.Helper()
	weftBin.once.Do(func() {
		weftBin.dir, weftBin.err = os.MkdirTemp("", "weft-test-bin-")
		if weftBin.err != nil {
			return
		}
		path := filepath.Join(weftBin.dir, "weft")
		args := []string{"build", "-o", path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, ".")...)
		if out, err := build.CombinedOutput(); err != nil {
			weftBin.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
			return
		}
		weftBin.path = path
	})
	if weftBin.err != nil {
		t.Fatalf("building weft: %v", weftBin.err)
	}
	return weftBin.path
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func TestMain(m *testing.M) {
	// No test writes the credentials file of the user running the tests:
	// those that need one name a file of their own (in-process and in the
	// processes they start, which inherit this).
	os.Setenv("WEFT_CREDENTIALS", "none")
	// A race-built process sleeps a second before it exits, so that late
	// races can still be reported (GORACE atexit_sleep_ms); the tests run
	// weft hundreds of times, and that second was most of their time. Races
	// are still detected, and still make weft exit 66.
	if _, set := os.LookupEnv("GORACE"); !set {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	code := m.Run()
	if weftBin.dir != "" {
		_ = os.RemoveAll(weftBin.dir)
	}
	os.Exit(code)
}
