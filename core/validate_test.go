package core_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

var update = flag.Bool("update", false, "rewrite golden files")

// allProblems parses and validates a document and returns every problem as
// "path: message (line L, column C)" lines, as weft validate prints them.
func allProblems(t testing.TB, eng *core.Engine, data []byte) []string {
	t.Helper()
	_, err := eng.ValidateDocument(context.Background(), data)
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "error is %T: %v", err, err)
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.String()
	}
	return lines
}

// TestInvalidWorkflows checks the complete problem list of every document in
// testdata/invalid against its golden file (go test -run TestInvalidWorkflows -update).
func TestInvalidWorkflows(t *testing.T) {
	t.Parallel()
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	files, err := filepath.Glob("testdata/invalid/*")
	require.NoError(t, err)
	var docs []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden") {
			docs = append(docs, f)
		}
	}
	require.NotEmpty(t, docs)
	for _, f := range docs {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			got := strings.Join(allProblems(t, eng, data), "\n") + "\n"
			require.NotEqual(t, "\n", got, "an invalid document must report problems")
			golden := f + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to create the golden file")
			require.Equal(t, string(want), got)
		})
	}
}

func TestParseReportsPositions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		doc        string
		wantPath   string
		wantLine   int
		wantColumn int
		wantMsg    string
	}{
		{"syntax error", "{\n  \"name\": \"x\",\n  \"steps\": [,]\n}", "", 3, 13, "invalid JSON"},
		{"unexpected end", "{\"name\": \"x\",\n \"steps\": [", "", 2, 12, "unexpected end"},
		{"unknown field", "{\"name\": \"x\",\n\"steps\": [{\"id\": \"a\", \"type\": \"WAIT\",\n  \"colour\": 1}]}", "steps[0].colour", 3, 3, `unknown field "colour"`},
		{"wrong type", "{\"name\": \"x\", \"steps\": [{\"id\": \"a\", \"type\": \"WAIT\", \"timeout\": true}]}", "steps[0].timeout", 1, 53, "expected an integer, got a boolean"},
		{"trailing data", "{\"name\": \"x\", \"steps\": []} {}", "", 1, 28, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := core.ParseWorkflow([]byte(tt.doc))
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			p := ve.Problems[0]
			require.Equal(t, tt.wantPath, p.Path)
			require.Contains(t, p.Message, tt.wantMsg)
			require.Equal(t, [2]int{tt.wantLine, tt.wantColumn}, [2]int{p.Line, p.Column}, "line, column of %v", p)
		})
	}
}

func TestParseYAML(t *testing.T) {
	t.Parallel()
	wf, err := core.ParseWorkflow([]byte(`
name: from yaml
timeout: 1000
steps:
  - id: wait
    type: WAIT
    config:
      duration: 5
  - id: after
    type: WAIT
    dependsOn: [wait]
    config: {duration: 1}
`))
	require.NoError(t, err)
	require.Equal(t, "from yaml", wf.Name)
	require.Equal(t, int64(1000), wf.Timeout)
	require.Len(t, wf.Steps, 2)
	require.Equal(t, []string{"wait"}, wf.Steps[1].DependsOn)
	require.Equal(t, map[string]any{"duration": float64(5)}, wf.Steps[0].Config)
}

func TestDependsOnPresence(t *testing.T) {
	t.Parallel()
	wf := parse(t, `{"name": "x", "steps": [{"id": "a", "type": "WAIT"}, {"id": "b", "type": "WAIT", "dependsOn": []}, {"id": "c", "type": "WAIT", "dependsOn": null}]}`)
	require.False(t, wf.Steps[0].HasDependsOn())
	require.True(t, wf.Steps[1].HasDependsOn(), "an explicit empty dependsOn means: start at once")
	require.False(t, wf.Steps[2].HasDependsOn())
}

// TestValidateLargeWorkflow validates 10,000 chained steps, each reading the
// previous one's output (see BenchmarkValidate10000Steps for the time).
func TestValidateLargeWorkflow(t *testing.T) {
	t.Parallel()
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	wf, err := core.ParseWorkflow(largeWorkflow(10000))
	require.NoError(t, err)
	require.NoError(t, eng.Validate(context.Background(), wf))

	// One bad reference among 10,000 steps is found and named.
	doc := strings.Replace(string(largeWorkflow(10000)), `{{steps.s4999.output}}`, `{{steps.s9999.output}}`, 1)
	wf, err = core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	err = eng.Validate(context.Background(), wf)
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 1)
	require.Equal(t, "steps[5000].config.body", ve.Problems[0].Path)
	require.Contains(t, ve.Problems[0].Message, `does not precede step "s5000"`)
}

func largeWorkflow(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"name": "large", "steps": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		body := `"static"`
		if i > 0 {
			body = fmt.Sprintf(`"{{steps.s%d.output}}"`, i-1)
		}
		fmt.Fprintf(&b, `{"id": "s%d", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "http://127.0.0.1:9100/x/{{input.id}}", "body": %s}}`, i, body)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func BenchmarkValidate10000Steps(b *testing.B) {
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	doc := largeWorkflow(10000)
	b.ReportAllocs()
	for b.Loop() {
		wf, err := core.ParseWorkflow(doc)
		if err != nil {
			b.Fatal(err)
		}
		if err := eng.Validate(context.Background(), wf); err != nil {
			b.Fatal(err)
		}
	}
}
