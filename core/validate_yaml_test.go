package core_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// yamlProblems validates a document and returns its problems, failing the
// test when it is valid.
func yamlProblems(t *testing.T, eng *core.Engine, doc string) []sdk.Problem {
	t.Helper()
	_, err := eng.ValidateDocument(context.Background(), []byte(doc))
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "error is %T: %v", err, err)
	return ve.Problems
}

// TestYAMLPositions checks that problems of YAML documents carry the line
// and column of what their path names: a member's key, an element's value.
// Columns count bytes, as for JSON.
func TestYAMLPositions(t *testing.T) {
	t.Parallel()
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	schemaEng, _ := schemaEngine(t)
	tests := []struct {
		name   string
		doc    string
		schema bool // validate with the extension components of configschema_test.go
		want   []string
	}{
		{name: "unknown field, block style",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    colour: red\n    config:\n      duration: 1\n",
			want: []string{`steps[0].colour (line 5, column 5): unknown field "colour"`}},
		{name: "wrong type points at the key",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    timeout:   true\n    config: {duration: 1}\n",
			want: []string{"steps[0].timeout (line 5, column 5): expected an integer, got a boolean"}},
		{name: "deep in flow style",
			doc:  "name: x\nsteps:\n  - {id: t, type: DATA_TRANSFORM, config: {operations: [{type: rename, from: a, to: b}, {type: explode}]}}\n",
			want: []string{`steps[0].config.operations[1].type (line 3, column 90): "explode" is not an operation`}},
		{name: "an element points at its value",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1}\n    dependsOn:\n      -   ghost\n",
			want: []string{`steps[0].dependsOn[0] (line 7, column 11): unknown step "ghost"`}},
		{name: "an element of a flow sequence",
			doc:  "name: x\nsteps:\n  - {id: a, type: WAIT, config: {duration: 1}, dependsOn: [a,   ghost]}\n",
			want: []string{`steps[0].dependsOn[0] (line 3, column 60): a step cannot depend on itself`, `steps[0].dependsOn[1] (line 3, column 65): unknown step "ghost"`}},
		{name: "a missing field points at the mapping's first key",
			doc:  "name: x\nsteps:\n  -   id: a\n      config: {duration: 1}\n",
			want: []string{"steps[0].type (line 3, column 7): is required"}},
		{name: "a bare dash points at the dash",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1}\n  -\n",
			want: []string{"steps[1].id (line 6, column 3): is required", "steps[1].type (line 6, column 3): is required"}},
		{name: "a missing top-level field points at the body, after --- and comments",
			doc:  "# a comment\n---  # another\n\n  steps: [{id: a, type: WAIT, config: {duration: 1}}]\n",
			want: []string{"name (line 4, column 3): is required"}},
		{name: "a dependency cycle",
			doc:  "name: x\nsteps:\n  - {id: a, type: WAIT, config: {duration: 1}, dependsOn: [b]}\n  - {id: b, type: WAIT, config: {duration: 1}, dependsOn: [a]}\n",
			want: []string{"steps[1].dependsOn (line 4, column 48): dependency cycle: b → a → b"}},
		{name: "after a literal block",
			doc:  "name: x\ndescription: |\n  one\n  two\n\n  four\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: -1}\n",
			want: []string{"steps[0].config.duration (line 10, column 14): duration must be a non-negative number of milliseconds, got -1"}},
		{name: "a block scalar element points at its indicator",
			doc:  "name: x\nsteps:\n  - >-\n    folded\n    step\n",
			want: []string{"steps[0] (line 3, column 5): expected an object, got a string"}},
		{name: "a multi-line quoted string",
			doc:  "name: \"two\n  lines\"\nsteps:\n  - \"a step\n    in quotes\"\n",
			want: []string{"steps[0] (line 4, column 5): expected an object, got a string"}},
		{name: "a tag points at the tag",
			doc:  "name: x\nsteps:\n  - !!str 5\n",
			want: []string{"steps[0] (line 3, column 5): expected an object, got a string"}},
		{name: "CRLF line endings",
			doc:  "name: x\r\nsteps:\r\n  - id: a\r\n    type: WAIT\r\n    colour: red\r\n    config: {duration: 1}\r\n",
			want: []string{`steps[0].colour (line 5, column 5): unknown field "colour"`}},
		{name: "tabs count one column",
			doc:  "name:\tx\nsteps:\n  - id:\ta\n    type:\tWAIT\n    config:\t{duration:\t1, until: x}\n",
			want: []string{"steps[0].config (line 5, column 5): give duration or until, not both"}},
		{name: "multi-byte characters count their bytes",
			doc:  "name: x\nsteps:\n  - {description: \"日本語\", id: a, type: WAIT, colour: 1, config: {duration: 1}}\n",
			want: []string{`steps[0].colour (line 3, column 51): unknown field "colour"`}},
		{name: "a byte order mark is not counted",
			doc:  "\ufeffname: x\nsteps: [{id: a, type: WAIT, colour: 1, config: {duration: 1}}]\n",
			want: []string{`steps[0].colour (line 2, column 29): unknown field "colour"`}},
		{name: "an explicit key",
			doc:  "? name\n: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1}\n? colour\n: red\n",
			want: []string{`colour (line 7, column 3): unknown field "colour"`}},
		{name: "a key that is not a string",
			doc:  "name: x\n100: y\nsteps: [{id: a, type: WAIT, config: {duration: 1}}]\n",
			want: []string{`100 (line 2, column 1): unknown field "100"`}},
		{name: "a quoted key",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1}\n    \"col our\": 1\n",
			want: []string{`steps[0]["col our"] (line 6, column 5): unknown field "col our"`}},
		{name: "merged keys point where they are written",
			doc:  "name: x\nsteps:\n  - id: a\n    <<: {type: WAIT, config: {duration: 1}, colour: red}\n",
			want: []string{`steps[0].colour (line 4, column 45): unknown field "colour"`}},
		{name: "a later duplicate key wins, and is reported",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1}\n    timeout: 1\n    timeout: soon\n",
			want: []string{`steps[0].timeout (line 7, column 5): duplicate key "timeout"`, "steps[0].timeout (line 7, column 5): expected an integer, got a string"}},
		{name: "an alias is refused where the first anchor is",
			doc:  "name: x\nbase: {duration: 1}\nsteps:\n  - id: a\n    type: WAIT\n    config: &c {duration: 1}\n  - {id: b, type: WAIT, config: *c}\n",
			want: []string{"line 6, column 13: YAML anchors and aliases (&name, *name) are not supported in workflow definitions"}},
		{name: "a second document is ignored",
			doc:  "name: x\nsteps: [{id: a, type: WAIT, colour: 1, config: {duration: 1}}]\n...\n---\nname: [not, read]\n",
			want: []string{`steps[0].colour (line 2, column 29): unknown field "colour"`}},
		{name: "a syntax error",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1\n",
			want: []string{"line 5, column 13: invalid YAML: could not find flow mapping end token '}'"}},
		{name: "a syntax error after multi-byte characters and a tab",
			doc:  "name: é\nsteps: [{description: ü, id: a,\ttype: WAIT}]\n",
			want: []string{"line 2, column 34: invalid YAML: tab character cannot use as a map key directly"}},
		{name: "infinity",
			doc:  "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: -.inf}\n",
			want: []string{"steps[0].config.duration (line 5, column 14): -.inf is not a number JSON can hold (no infinities or NaN)"}},
		{name: "config schema of an extension component", schema: true,
			doc:  "name: x\nsteps:\n  - id: a\n    type: call\n    config:\n      url: http://x.test/\n      retries: -1\n      tags: [ok,\n             x]\n      headers: {\"X.Key\": 5}\n",
			want: []string{"steps[0].config.retries (line 7, column 7): must be >= 0", "steps[0].config.tags[1] (line 9, column 14): must be at least 2 characters long", `steps[0].config.headers["X.Key"] (line 10, column 17): must be string, not number`}},
		{name: "config schema: a missing property", schema: true,
			doc:  "name: x\nsteps:\n  - id: a\n    type: call\n    config:\n      count: 1\n",
			want: []string{"steps[0].config.url (line 5, column 5): is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := eng
			if tt.schema {
				e = schemaEng
			}
			got := yamlProblems(t, e, tt.doc)
			require.Len(t, got, len(tt.want), "%v", got)
			for i, p := range got {
				require.True(t, strings.HasPrefix(p.String(), tt.want[i]), "got %q\nwant %q…", p.String(), tt.want[i])
			}
		})
	}
}

// TestYAMLMatchesJSON renders every JSON document of testdata/invalid as
// block-style YAML and checks that both give the same problems (path and
// message), each with a position when the JSON one has one, and that a
// problem whose path names a member points at that member's key in both.
func TestYAMLMatchesJSON(t *testing.T) {
	t.Parallel()
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	files, err := filepath.Glob("testdata/invalid/*.json")
	require.NoError(t, err)
	compared := 0
	for _, f := range files {
		jsonDoc, err := os.ReadFile(f)
		require.NoError(t, err)
		yamlDoc, err := yaml.JSONToYAML(jsonDoc)
		if err != nil || len(bytes.TrimSpace(jsonDoc)) == 0 || bytes.HasPrefix(yamlDoc, []byte("{")) {
			continue // a syntax error, duplicate keys or an empty document: nothing to compare
		}
		compared++
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			fromJSON := yamlProblems(t, eng, string(jsonDoc))
			fromYAML := yamlProblems(t, eng, string(yamlDoc))
			require.Equal(t, pathsAndMessages(fromJSON), pathsAndMessages(fromYAML), "YAML:\n%s", yamlDoc)
			checked := 0
			for _, p := range fromYAML {
				require.True(t, p.Line > 0 || p.Path == "", "%v has no position in\n%s", p, yamlDoc)
				key, ok := lastKey(p.Path)
				if !ok {
					continue
				}
				j := find(fromJSON, p)
				if strings.HasPrefix(textAt(jsonDoc, j.Line, j.Column), strconv.Quote(key)) {
					// The JSON names the member itself, not an ancestor: so must the YAML.
					at := textAt(yamlDoc, p.Line, p.Column)
					require.True(t, strings.HasPrefix(at, key) || strings.HasPrefix(at, strconv.Quote(key)) || strings.HasPrefix(at, "'"+key),
						"%v points at %q in\n%s", p, firstLine(at), yamlDoc)
					checked++
				}
			}
			t.Logf("%d problems, %d of them at the key they name", len(fromYAML), checked)
		})
	}
	require.Greater(t, compared, 5)
}

// TestYAMLLineEndings checks that every YAML document of testdata/invalid
// gives the same problems, at the same lines and columns, with CRLF line
// endings.
func TestYAMLLineEndings(t *testing.T) {
	t.Parallel()
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			require.Equal(t, allProblems(t, eng, data), allProblems(t, eng, crlf))
		})
	}
}

func pathsAndMessages(ps []sdk.Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path + ": " + p.Message
	}
	sort.Strings(out)
	return out
}

func find(ps []sdk.Problem, want sdk.Problem) sdk.Problem {
	for _, p := range ps {
		if p.Path == want.Path && p.Message == want.Message {
			return p
		}
	}
	return sdk.Problem{}
}

// lastKey is the key a path ends with (steps[0].config.url → url), if it
// ends with a plain key.
func lastKey(path string) (string, bool) {
	if path == "" || strings.HasSuffix(path, "]") {
		return "", false
	}
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		return path[i+1:], true
	}
	return path, true
}

// textAt is the document from a 1-based line and byte column on.
func textAt(doc []byte, line, col int) string {
	if line < 1 {
		return ""
	}
	lines := strings.SplitAfter(string(doc), "\n")
	if line > len(lines) || col < 1 || col > len(lines[line-1])+1 {
		return ""
	}
	return strings.Join(lines[line-1:], "")[col-1:]
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// BenchmarkParseYAML2000Steps parses (and indexes) a YAML document of 2,000
// steps; compare BenchmarkValidate10000Steps for JSON.
func BenchmarkParseYAML2000Steps(b *testing.B) {
	doc, err := yaml.JSONToYAML(largeWorkflow(2000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := core.ParseWorkflow(doc); err != nil {
			b.Fatal(err)
		}
	}
}
