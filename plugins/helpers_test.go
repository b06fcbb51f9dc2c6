package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/plugins"
	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

// bins holds the test plugins, built on first use by buildPlugin and
// removed by TestMain.
var bins string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weft-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var built sync.Map // package path → *builtPlugin

type builtPlugin struct {
	once sync.Once
	path string
	err  error
}

// buildPlugin builds the test plugin of package pkg (./testdata/…) once and
// returns its binary.
func buildPlugin(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := built.LoadOrStore(pkg, &builtPlugin{})
	b := v.(*builtPlugin)
	b.once.Do(func() {
		b.path = filepath.Join(bins, filepath.Base(pkg))
		b.err = plugintest.Build(pkg, b.path)
	})
	require.NoError(t, b.err)
	return b.path
}

// pluginsDir returns a new plugins directory holding test plugins (of
// ./testdata/BIN) under the file names given (file → bin).
func pluginsDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for file, bin := range files {
		require.NoError(t, os.Link(buildPlugin(t, "./testdata/"+bin), filepath.Join(dir, file)))
	}
	return dir
}

// logs is a concurrency-safe slog sink.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// load starts a manager on dir and returns it with an engine whose registry
// holds the built-in steps and the plugins' components.
func load(t testing.TB, opts plugins.Options) (*plugins.Manager, *core.Engine, *core.Registry, error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := plugins.New(opts)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	reg := steps.NewRegistry(steps.Options{})
	err := m.Load(t.Context(), reg)
	return m, core.New(core.Options{Registry: reg}), reg, err
}

func run(t testing.TB, eng *core.Engine, doc string, input any) *core.Execution {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	plan, err := eng.Compile(t.Context(), w)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	exec, err := eng.Execute(ctx, plan, input)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "the execution ended only at the test's guard")
	return exec
}

// hangGuard bounds every wait of these tests on something that must happen:
// a guard against a hang, far above what anything needs under -race on a busy
// machine, never a measure of speed.
const hangGuard = 2 * time.Minute

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
