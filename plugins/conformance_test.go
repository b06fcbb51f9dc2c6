package plugins_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest"
	"github.com/weftworks/weft/plugins"
)

// lazyBins builds test plugins that only some tests use, once each, into
// bins (which TestMain removes).
var lazyBins sync.Map // package path → *lazyBin

type lazyBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildPlugin builds the test plugin of package pkg (./testdata/…) once and
// returns its binary.
func buildPlugin(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := lazyBins.LoadOrStore(pkg, &lazyBin{})
	b := v.(*lazyBin)
	b.once.Do(func() {
		b.path = filepath.Join(bins, "lazy-"+filepath.Base(pkg))
		b.out, b.err = exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
	})
	require.NoError(t, b.err, "build %s:\n%s", pkg, b.out)
	return b.path
}

// TestConformance runs the runtime conformance suite on the plugin build of
// the conformance components: the compiled-in Go code of package
// core/coretest/reference, served by plugin.Serve from a binary
// (testdata/conformance) that one manager runs for every case, over
// go-plugin's gRPC with AutoMTLS as in production. The binary is named
// "conformance", so the components keep their own names.
func TestConformance(t *testing.T) {
	coretest.Run(t, func(t *testing.T, reg *core.Registry) {
		dir := t.TempDir()
		require.NoError(t, os.Link(buildPlugin(t, "./testdata/conformance"), filepath.Join(dir, "conformance")))
		m := plugins.New(plugins.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		require.NoError(t, m.Load(t.Context(), reg))
	})
}
