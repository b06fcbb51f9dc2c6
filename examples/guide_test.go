package examples_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// guideClonePath is what the guide's reader replaces with the directory of
// their clone of weft; the test puts this checkout there.
const guideClonePath = "/path/to/weft"

// guideCommands returns the go commands of a sh block of the guide, as
// argument lists, with guideClonePath replaced by root. Every other line
// must be one of known, which the test does in its own way; anything else
// fails the test, so that the guide cannot gain a step the test skips.
func guideCommands(t *testing.T, block, root string, known ...string) [][]string {
	t.Helper()
	var cmds [][]string
	for line := range strings.Lines(block) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if args, ok := strings.CutPrefix(line, "go "); ok {
			require.NotContains(t, args, "'", "the test splits commands on spaces: %s", line)
			require.NotContains(t, args, "\"", "the test splits commands on spaces: %s", line)
			fields := strings.Fields(args)
			for i := range fields { // after splitting: root may hold spaces
				fields[i] = strings.ReplaceAll(fields[i], guideClonePath, root)
			}
			cmds = append(cmds, fields)
			continue
		}
		require.Contains(t, known, line, "a command of the guide this test does not follow")
	}
	return cmds
}

// TestPluginGuideHelloWorld follows docs/plugins.md from an empty folder:
// the guide's commands to set up a module that builds against a clone of
// weft (this checkout, through `go mod edit -replace`), its main.go, its
// build commands, then weft loading the plugins directory and running the
// guide's workflow. The published-module variant (`go get …@latest`) is
// not followed: weft's module may not be published at this commit.
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
	// The folder is made here ("mkdir hello && cd hello"), and weft loads
	// the plugins directory through plugins.Manager, as `weft serve` does.
	setup := guideCommands(t, guideBlock(t, guide, "module-setup", "sh"), root, "mkdir hello && cd hello")
	build := guideCommands(t, guideBlock(t, guide, "build", "sh"), root, "weft serve --plugins-dir ./plugins")
	require.True(t, slices.ContainsFunc(setup, func(args []string) bool {
		return slices.Equal(args, []string{"mod", "edit", "-replace", "github.com/weftworks/weft=" + root})
	}), "the guide's setup builds against a clone through a replace of %s: %v", guideClonePath, setup)

	dir := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, os.Mkdir(dir, 0o755))
	goRun := func(cmds [][]string) {
		for _, args := range cmds {
			cmd := exec.CommandContext(t.Context(), "go", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
		}
	}
	goRun(setup)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	goRun(build)

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
	}, 2*time.Minute, 10*time.Millisecond, "the plugin's log record reaches weft's log tagged with the plugin:\n%s", log.String())
}
