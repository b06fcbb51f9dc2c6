package plugins_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest"
	"github.com/weftworks/weft/plugins"
)

// TestConformance runs the runtime conformance suite on the plugin build of
// the conformance components: the compiled-in Go code of package
// core/coretest/reference, served by plugin.Serve from a binary
// (testdata/conformance) that one manager runs for every case, over
// go-plugin's gRPC with AutoMTLS as in production. The binary is named
// "conformance", so the components keep their own names.
func TestConformance(t *testing.T) {
	coretest.Run(t, func(t *testing.T, reg *core.Registry) { registerConformance(t, reg) })
}

// BenchmarkConformanceStop: how soon a plugin call is stopped after its
// deadline.
func BenchmarkConformanceStop(b *testing.B) {
	reg := coretest.NewRegistry()
	registerConformance(b, reg)
	coretest.BenchmarkStop(b, reg)
}

func registerConformance(tb testing.TB, reg *core.Registry) {
	dir := tb.TempDir()
	require.NoError(tb, os.Link(buildPlugin(tb, "./testdata/conformance"), filepath.Join(dir, "conformance")))
	m := plugins.New(plugins.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tb.Cleanup(func() { _ = m.Close(context.Background()) })
	require.NoError(tb, m.Load(context.Background(), reg))
}
