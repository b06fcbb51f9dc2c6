package examples_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/plugins"
)

// guideBlock returns the first fenced code block of lang after the marker
// <!-- guide:NAME --> in docs/plugins.md, so that this test breaks when
// the guide's code does.
func guideBlock(t *testing.T, guide, name, lang string) string {
	t.Helper()
	marker := "<!-- guide:" + name + " -->"
	_, rest, ok := strings.Cut(guide, marker)
	require.True(t, ok, "docs/plugins.md has no %s", marker)
	fence := "```" + lang + "\n"
	rest = strings.TrimLeft(rest, " \t\r\n")
	require.True(t, strings.HasPrefix(rest, fence), "%s is not followed by a %s block", marker, fence)
	block, _, ok := strings.Cut(rest[len(fence):], "```")
	require.True(t, ok, "the block after %s is not closed", marker)
	return block
}

// guideLog is a concurrency-safe log sink.
type guideLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *guideLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *guideLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestPluginGuideHelloWorld follows docs/plugins.md from an empty folder:
// the guide's main.go in a module of its own, built into a plugins
// directory, loaded by weft and run by a workflow, the guide's too. Instead
// of `go get` (weft's module may not be published at this commit) the
// module requires this checkout through a replace directive.
func TestPluginGuideHelloWorld(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/plugins.md")
	require.NoError(t, err)
	guide := string(doc)
	src := guideBlock(t, guide, "hello-plugin", "go")
	require.LessOrEqual(t, strings.Count(strings.TrimSpace(src), "\n")+1, 20, "the guide promises a hello world of at most 20 lines")
	workflow := guideBlock(t, guide, "hello-workflow", "json")

	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	for _, args := range [][]string{
		{"mod", "init", "example.com/hello"},
		{"mod", "edit", "-replace", "github.com/weftworks/weft=" + root},
		{"mod", "tidy"},
		{"build", "-o", filepath.Join("plugins", "hello"), "."},
	} {
		cmd := exec.CommandContext(t.Context(), "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	}

	var log guideLog
	logger := slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m := plugins.New(plugins.Options{Dir: filepath.Join(dir, "plugins"), Logger: logger})
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	reg := steps.NewRegistry(steps.Options{})
	require.NoError(t, m.Load(t.Context(), reg))

	eng := core.New(core.Options{Registry: reg, Logger: logger})
	wf, err := eng.ValidateDocument(t.Context(), []byte(workflow))
	require.NoError(t, err)
	plan, err := eng.Compile(t.Context(), wf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	exec, err := eng.Execute(t.Context(), plan, map[string]any{"name": "Ada"})
	require.NoError(t, err)
	require.Equal(t, core.StatusCompleted, exec.Status, "error: %v", exec.Error)
	require.Equal(t, "hello, Ada", exec.Output, "the output the guide promises")

	require.Eventually(t, func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `"msg":"greeting"`) && strings.Contains(line, `"plugin":"hello"`) && strings.Contains(line, `"name":"Ada"`) {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the plugin's log record reaches weft's log tagged with the plugin:\n%s", log.String())
}
