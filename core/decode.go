package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// MaxDefinitionBytes bounds the size of a workflow document.
const MaxDefinitionBytes = 16 << 20

// ParseWorkflow decodes a workflow definition from JSON or YAML (YAML when the
// document does not start with '{' or '['). Field names are matched exactly;
// unknown fields and values of the wrong type are reported with their JSON
// path and their line and column in the document, JSON or YAML alike (see
// decode_yaml.go for how YAML positions are counted).
//
// A syntax error returns a nil workflow. Shape problems return the workflow as
// far as it could be decoded together with a *sdk.ValidationError, so callers
// can report semantic problems (see Validate) in the same pass.
func ParseWorkflow(data []byte) (*Workflow, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, problem("", "empty document: a workflow needs at least a name and steps")
	}
	if len(data) > MaxDefinitionBytes {
		return nil, problem("", fmt.Sprintf("document is %d bytes; the limit is %d", len(data), MaxDefinitionBytes))
	}
	isJSON := trimmed[0] == '{' || trimmed[0] == '['
	src := &sourceMap{}
	var problems []sdk.Problem
	if !isJSON {
		js, ysrc, yproblems, err := parseYAML(data)
		if err != nil {
			return nil, err
		}
		if len(js) > MaxDefinitionBytes {
			return nil, problem("", fmt.Sprintf("the YAML document expands to %d bytes of JSON; the limit is %d", len(js), MaxDefinitionBytes))
		}
		if ysrc != nil {
			src = ysrc
		}
		data, problems = js, yproblems
	}

	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		if !isJSON {
			// A position in the JSON made of the YAML would mislead.
			return nil, problem("", "invalid YAML: it does not convert to JSON: "+err.Error())
		}
		return nil, syntaxProblem(data, err)
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, problem("", "a workflow must be a JSON object, got "+sdk.TypeName(tree))
	}

	if isJSON {
		src.data = data
		problems = append(problems, src.scan()...)
	}
	if err := sdk.CheckShape(tree, reflect.TypeFor[Workflow](), false); err != nil {
		problems = append(problems, err.(*sdk.ValidationError).Problems...)
	}

	wf := &Workflow{}
	if err := json.Unmarshal(data, wf); err != nil && len(problems) == 0 {
		problems = append(problems, sdk.Problem{Message: err.Error()})
	}
	wf.source = src
	if len(problems) > 0 {
		return wf, wf.locate(&sdk.ValidationError{Problems: problems})
	}
	return wf, nil
}

func problem(path, msg string) *sdk.ValidationError {
	return &sdk.ValidationError{Problems: []sdk.Problem{{Path: path, Message: msg}}}
}

func syntaxProblem(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the offending byte itself; point at it (or just past
		// the end when the input stops short).
		off := int(se.Offset) - 1
		if strings.Contains(se.Error(), "unexpected end") {
			off = int(se.Offset)
		}
		line, col := lineCol(data, off)
		return &sdk.ValidationError{Problems: []sdk.Problem{{
			Message: "invalid JSON: " + se.Error(), Line: line, Column: col,
		}}}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := lineCol(data, len(data))
		return &sdk.ValidationError{Problems: []sdk.Problem{{
			Message: "invalid JSON: unexpected end of input", Line: line, Column: col,
		}}}
	}
	return problem("", "invalid JSON: "+err.Error())
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

// sourceMap remembers where each JSON path starts in the source document so
// that problems found later (validation, graph checks) can name a line and a
// column. For JSON, scan fills pos; for YAML, parseYAML fills tree.
type sourceMap struct {
	data []byte
	pos  map[string]int // JSON: path → byte offset
	tree *posTree       // YAML
}

// indexed reports whether the map knows any position.
func (s *sourceMap) indexed() bool { return s != nil && (s.pos != nil || s.tree != nil) }

// scan walks the document token by token, recording the offset of every value
// and reporting duplicate object keys (which encoding/json silently merges).
func (s *sourceMap) scan() []sdk.Problem {
	s.pos = map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(s.data))
	type frame struct {
		path   string
		object bool
		key    string // pending key in an object
		hasKey bool
		index  int
		seen   map[string]bool
	}
	var stack []*frame
	var problems []sdk.Problem
	start := func() int {
		off := int(dec.InputOffset())
		for off < len(s.data) {
			switch s.data[off] {
			case ' ', '\t', '\n', '\r', ',', ':':
				off++
				continue
			}
			break
		}
		return off
	}
	valuePath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.object {
			return sdk.KeyPath(top.path, top.key)
		}
		return fmt.Sprintf("%s[%d]", top.path, top.index)
	}
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.object {
			top.hasKey = false
		} else {
			top.index++
		}
	}
	for {
		off := start()
		tok, err := dec.Token()
		if err != nil {
			return problems // syntax errors were reported by json.Unmarshal already
		}
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.object && !top.hasKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					afterValue()
					continue
				}
				key, _ := tok.(string)
				p := sdk.KeyPath(top.path, key)
				if top.seen[key] {
					line, col := lineCol(s.data, off)
					problems = append(problems, sdk.Problem{Path: p, Message: fmt.Sprintf("duplicate key %q", key), Line: line, Column: col})
				}
				top.seen[key] = true
				top.key, top.hasKey = key, true
				s.pos[p] = off
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				p := valuePath()
				if _, ok := s.pos[p]; !ok {
					s.pos[p] = off
				}
				stack = append(stack, &frame{path: p, object: d == '{', seen: map[string]bool{}})
			case ']':
				stack = stack[:len(stack)-1]
				afterValue()
			}
		default:
			p := valuePath()
			if _, ok := s.pos[p]; !ok {
				s.pos[p] = off
			}
			afterValue()
		}
	}
}

// position finds the line and column of a path, or of its nearest ancestor
// present in the document.
func (s *sourceMap) position(path string) (int, int, bool) {
	if !s.indexed() {
		return 0, 0, false
	}
	if s.tree != nil {
		off, ok := s.tree.lookup(path)
		if !ok {
			return 0, 0, false
		}
		l, c := lineCol(s.data, off)
		return l, c, true
	}
	for {
		if off, ok := s.pos[path]; ok {
			l, c := lineCol(s.data, off)
			return l, c, true
		}
		if path == "" {
			return 0, 0, false
		}
		path = parentPath(path)
	}
}

// parentPath strips the last segment of a path: a.b[2] → a.b, a.b → a.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// locate adds line and column to problems that lack them, from the document
// (JSON or YAML) the workflow was decoded from, and orders them by position.
func (w *Workflow) locate(ve *sdk.ValidationError) *sdk.ValidationError {
	if w == nil || !w.source.indexed() {
		return ve
	}
	defer SortProblems(ve.Problems)
	for i := range ve.Problems {
		p := &ve.Problems[i]
		if p.Line == 0 {
			if l, c, ok := w.source.position(p.Path); ok && (p.Path != "" || l > 0) {
				p.Line, p.Column = l, c
			}
		}
	}
	return ve
}

// SortProblems orders problems by their line in the document; problems
// without a position keep their order, after the others.
func SortProblems(ps []sdk.Problem) {
	key := func(p sdk.Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	sort.SliceStable(ps, func(i, j int) bool { return key(ps[i]) < key(ps[j]) })
}
