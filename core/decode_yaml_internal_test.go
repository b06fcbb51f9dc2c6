package core

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

// yamlSeeds are the YAML documents of testdata and a few odd shapes.
func yamlSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	var seeds [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		seeds = append(seeds, data)
	}
	for _, s := range []string{
		"name: x\nsteps:\n  - id: a\n    type: WAIT\n",
		"---\n# c\nname: \"héllo\" # tail\nsteps: [{id: a, type: WAIT}, 'b']\n",
		"name: |\n  multi\n  line\nsteps:\n- id: ä\n  type: >-\n    folded\n    text\n  x: y\n",
		"a: {b: 1}\nd: !!str 5\n? e\n: f\n<<: {g: 1}\n1: x\n~: y\n0x10: z\n",
		"%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n",
		"a: 1\r\nb:\r\n  - x\r\n  -\r\n  - - y\r\n",
		"a: plain  \n  more   \n  end\nb:   \n  c: d\n",
		"a: !!binary aGVsbG8=\nb: !!float 1\nc: !custom x\nd: !!timestamp 2001-12-14\n",
		"a:\n  \"x.y\": 1\n  'q[0]': 2\n  \"\": 3\n  ' ': 4\n",
		"<<: [{a: 1}, {a: 2, b: 3}]\nb: 4\n",
		"a\x80b: [c\xff, {\"\xfe\": 1}]\n",
		"\xef\xbfa: [1]\nb: 2\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkYAMLIndex checks what parseYAML makes of a document: the JSON is
// what yaml.YAMLToJSON makes of it (a second parse, which ParseWorkflow no
// longer does), and every path of that JSON has a position of its own that
// points at a character of the source, not at a blank.
func checkYAMLIndex(t *testing.T, data []byte) {
	js, src, _, err := parseYAML(data)
	if err != nil {
		var ve *sdk.ValidationError
		require.ErrorAs(t, err, &ve)
		return
	}
	if want, err := yaml.YAMLToJSON(data); err == nil {
		require.Equal(t, string(want), string(js), "the conversion of %q", data)
	} else {
		// The only refusal YAMLToJSON makes that parseYAML does not:
		// duplicate keys, which ParseWorkflow reports as problems.
		require.Contains(t, err.Error(), "already defined", "%q", data)
	}
	var tree any
	if json.Unmarshal(js, &tree) != nil || src == nil {
		return
	}
	if _, ok := tree.(map[string]any); !ok {
		return
	}
	// !!binary makes an array of a string, and a key of it reads "[…]".
	binary := bytes.Contains(data, []byte("!!binary"))
	var walk func(v any, path string, id int32)
	walk = func(v any, path string, id int32) {
		off := src.tree.nodes[id].off
		if off >= 0 {
			require.Less(t, off, len(data), "%s in %q", path, data)
			require.False(t, isBlank(data[off]), "%s points at a blank in %q", path, data)
		}
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				child, ok := src.tree.children[posEdge{parent: id, index: -1, key: k}]
				if !ok && binary {
					continue
				}
				require.True(t, ok, "no position for %s in %q", sdk.KeyPath(path, k), data)
				walk(c, sdk.KeyPath(path, k), child)
			}
		case []any:
			for i, c := range v {
				p := path + "[" + strconv.Itoa(i) + "]"
				child, ok := src.tree.children[posEdge{parent: id, index: int32(i)}]
				if !ok && binary {
					continue
				}
				require.True(t, ok, "no position for %s in %q", p, data)
				walk(c, p, child)
			}
		}
	}
	walk(tree, "", 0)
}

func TestYAMLIndex(t *testing.T) {
	t.Parallel()
	for _, doc := range yamlSeeds(t) {
		checkYAMLIndex(t, doc)
	}
}

func TestYAMLIndexLookup(t *testing.T) {
	t.Parallel()
	doc := "a:\n  \"x.y\": [1, {b: 2}]\n  'q[0]': 2\n  \"\": 3\n  \"1\": 4\n"
	_, src, _, err := parseYAML([]byte(doc))
	require.NoError(t, err)
	tests := []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"a", 1, 1},
		{`a["x.y"]`, 2, 3},
		{`a["x.y"][0]`, 2, 11},
		{`a["x.y"][1].b`, 2, 15},
		{`a["x.y"][1].c`, 2, 14},        // absent: its parent
		{`a["x.y"][7]`, 2, 3},           // absent: its parent
		{`a["q[0]"]`, 3, 3},             //
		{`a[""]`, 4, 3},                 // an empty key is quoted by sdk.KeyPath
		{`a.1`, 5, 3},                   // a key of digits
		{`a[1]`, 1, 1},                  // not an index of a mapping
		{`a["x.y"`, 1, 1},               // malformed: as far as it goes
		{`a["x.y"][99999999999]`, 2, 3}, //
	}
	for _, tt := range tests {
		l, c, ok := src.position(tt.path)
		require.True(t, ok, tt.path)
		require.Equal(t, [2]int{tt.line, tt.col}, [2]int{l, c}, tt.path)
	}
	require.Equal(t, `a[""]`, sdk.KeyPath("a", ""), "the path syntax this test relies on")
}

// FuzzYAMLIndex: whatever the YAML, parseYAML converts it as YAMLToJSON
// does and gives every JSON path a position on a character of the source.
func FuzzYAMLIndex(f *testing.F) {
	for _, s := range yamlSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 || len(bytes.TrimSpace(data)) == 0 {
			return
		}
		checkYAMLIndex(t, data)
	})
}
