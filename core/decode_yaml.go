package core

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/weftworks/weft/sdk"
)

// A YAML workflow document is parsed once into goccy/go-yaml's AST, converted
// from that AST to JSON (which is then decoded and checked like a JSON
// document), and indexed once: every JSON path of the document gets the byte
// offset where it is written in the YAML source, so that every problem,
// whenever it is found, carries a line and a column, as for JSON. Nothing is
// parsed twice and every step is linear in the size of the document.
//
// Positions are those of the JSON side (see lineCol and sourceMap.scan):
//
//   - Lines are 1-based and end at '\n' (CRLF is one line break; a lone CR,
//     which YAML also accepts, ends no line, as in JSON).
//   - Columns are 1-based and count bytes, like JSON's: a tab is one column,
//     "é" two. goccy's own positions count runes and drift after tabs, so
//     they are used only where the source cannot say (see tokenOffsets).
//   - A path that names a mapping member points at its key, as a JSON path
//     points at its "key"; a sequence element at the first character of its
//     value: the '{' or '[' of a flow collection, the first key of a block
//     mapping, the '-' of a nested block sequence, the '|' or '>' of a block
//     scalar, a tag such as !!str, the quote of a quoted scalar. An element
//     with no value (a bare "-") points at its '-'. The whole document
//     points at the first character of its body (after any "---").
//   - Keys merged in with "<<: {…}" point where they are written inside the
//     merged mapping; later entries win, as they win the JSON conversion.
//     Anchors and aliases never get that far: they are refused (see
//     findAlias) at the position of the first one, before anything expands.

// parseYAML turns a YAML workflow document into JSON and a sourceMap of the
// YAML source. problems lists what the index found on the way (duplicate
// keys); err is a *sdk.ValidationError when the document cannot be converted.
func parseYAML(data []byte) (js []byte, src *sourceMap, problems []sdk.Problem, err error) {
	text := string(data)
	tokens := lexer.Tokenize(text)
	offs := tokenOffsets(text, tokens)
	// Duplicate keys are reported below as problems with a path, as for JSON,
	// instead of stopping the parse.
	file, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, nil, nil, yamlError(data, offs, err)
	}
	if n := findAlias(file); n != nil {
		p := sdk.Problem{Message: "YAML anchors and aliases (&name, *name) are not supported in workflow definitions"}
		if off, ok := tokenOffset(data, offs, n.GetToken()); ok {
			p.Line, p.Column = lineCol(data, off)
		}
		return nil, nil, nil, &sdk.ValidationError{Problems: []sdk.Problem{p}}
	}
	body, value, err := yamlBody(file)
	if err != nil {
		return nil, nil, nil, yamlError(data, offs, err)
	}
	if body != nil {
		ix := &yamlIndex{data: data, offs: offs}
		off, _ := ix.start(body)
		ix.tree = newPosTree(off)
		ix.node(body, 0)
		if ix.fatal {
			return nil, nil, nil, &sdk.ValidationError{Problems: ix.problems}
		}
		src, problems = &sourceMap{data: data, tree: ix.tree}, ix.problems
	}
	js, err = yaml.MarshalWithOptions(value, yaml.JSON())
	if err != nil {
		return nil, nil, nil, problem("", "invalid YAML: cannot convert it to JSON: "+err.Error())
	}
	return js, src, problems, nil
}

// yamlBody decodes the document the way yaml.YAMLToJSON does (the first
// document with a value; later ones are decoded too, and their errors count)
// but from the AST already parsed, and returns its root node and value.
func yamlBody(file *ast.File) (ast.Node, any, error) {
	var body ast.Node
	var value any
	for _, doc := range file.Docs {
		if doc.Body == nil || reflect.ValueOf(doc.Body).IsNil() {
			continue
		}
		var v any
		// The decoder reads no bytes: DecodeFromNode decodes the node given.
		dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.UseOrderedMap())
		if err := dec.DecodeFromNode(doc.Body, &v); err != nil {
			return nil, nil, err
		}
		if body == nil && (v != nil || doc.Body.Type() == ast.NullType) {
			body, value = doc.Body, v
		}
	}
	return body, value, nil
}

// yamlError turns an error of the YAML parser or decoder into a problem at
// the position of the token it names.
func yamlError(data []byte, offs map[*token.Token]int, err error) *sdk.ValidationError {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return problem("", "invalid YAML: "+err.Error())
	}
	p := sdk.Problem{Message: "invalid YAML: " + ye.GetMessage()}
	if off, ok := tokenOffset(data, offs, ye.GetToken()); ok {
		p.Line, p.Column = lineCol(data, off)
	}
	return &sdk.ValidationError{Problems: []sdk.Problem{p}}
}

// findAlias finds the first anchor or alias of the document, which are
// refused before the document is expanded: a few hundred bytes of nested
// aliases expand to gigabytes ("billion laughs"). Workflow definitions do
// not need them.
func findAlias(file *ast.File) ast.Node {
	finder := &aliasFinder{}
	for _, doc := range file.Docs {
		ast.Walk(finder, doc)
	}
	return finder.found
}

type aliasFinder struct{ found ast.Node }

func (f *aliasFinder) Visit(n ast.Node) ast.Visitor {
	if f.found != nil || n == nil || reflect.ValueOf(n).IsNil() {
		return nil
	}
	if t := n.Type(); t == ast.AliasType || t == ast.AnchorType {
		f.found = n
		return nil
	}
	return f
}

// tokenOffsets finds the byte offset in src where each token starts. A
// token's Origin is its source text with the blanks before (and sometimes
// after) it, except that the scanner leaves out some blanks (trailing spaces,
// blank first lines) and reads each byte that is not UTF-8 as U+FFFD. So each
// Origin is matched against the source from where the previous one ended,
// stepping over blanks that either side lacks. Should they disagree on
// anything else, the remaining tokens get no offset (and tokenOffset falls
// back on goccy's position) rather than a wrong one. One pass over the source.
func tokenOffsets(src string, tokens token.Tokens) map[*token.Token]int {
	offs := make(map[*token.Token]int, len(tokens))
	at := 0
	for _, tk := range tokens {
		origin := tk.Origin
		j := 0
		for j < len(origin) && isBlank(origin[j]) {
			j++
		}
		for at < len(src) && isBlank(src[at]) {
			at++
		}
		offs[tk] = at
		for j < len(origin) {
			switch {
			case invalidByte(src, at) && strings.HasPrefix(origin[j:], replacement):
				// The scanner reads runes: each byte that is not UTF-8 became U+FFFD.
				at++
				j += len(replacement)
			case at < len(src) && src[at] == origin[j]:
				at++
				j++
			case at < len(src) && isBlank(src[at]):
				at++
			case isBlank(origin[j]):
				j++
			default:
				delete(offs, tk)
				return offs
			}
		}
	}
	return offs
}

const replacement = string(utf8.RuneError)

// invalidByte reports whether src[at] starts no valid UTF-8 sequence.
func invalidByte(src string, at int) bool {
	if at >= len(src) || src[at] < utf8.RuneSelf {
		return false
	}
	r, size := utf8.DecodeRuneInString(src[at:])
	return r == utf8.RuneError && size == 1
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tokenOffset is the byte offset of a token: from tokenOffsets, or else
// (tokens the parser or decoder made up) from goccy's line and rune column.
func tokenOffset(data []byte, offs map[*token.Token]int, tk *token.Token) (int, bool) {
	if tk == nil {
		return 0, false
	}
	if off, ok := offs[tk]; ok {
		return off, true
	}
	if tk.Position == nil || tk.Position.Line < 1 {
		return 0, false
	}
	return runeOffset(data, tk.Position.Line, tk.Position.Column), true
}

// runeOffset converts a 1-based line and rune column to a byte offset,
// clamped to the line (used once per document at most: it scans the source).
func runeOffset(data []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(data) && data[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off
}

// yamlIndex records where each value of a YAML document is written.
type yamlIndex struct {
	data     []byte
	offs     map[*token.Token]int
	tree     *posTree
	problems []sdk.Problem
	fatal    bool // a value JSON cannot hold: the document cannot be decoded
}

// node indexes what lies below n, which is the tree's node id.
func (x *yamlIndex) node(n ast.Node, id int32) {
	switch n := n.(type) {
	case *ast.MappingNode:
		x.mapping(n.Values, id)
	case *ast.MappingValueNode:
		x.mapping([]*ast.MappingValueNode{n}, id)
	case *ast.SequenceNode:
		x.sequence(n, id)
	case *ast.TagNode:
		x.node(n.Value, id)
	case *ast.AnchorNode:
		x.node(n.Value, id)
	case *ast.InfinityNode, *ast.NanNode:
		// goccy writes them into the JSON as they are, which then fails to
		// decode at a place of the JSON text, not of this document.
		x.fatal = true
		x.add(id, fmt.Sprintf("%s is not a number JSON can hold (no infinities or NaN)", n.GetToken().Value))
	}
}

// mapping indexes the entries of one mapping of the source. Merged entries
// ("<<") are indexed as entries of the mapping they are merged into.
func (x *yamlIndex) mapping(entries []*ast.MappingValueNode, id int32) {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e == nil || e.Key == nil || reflect.ValueOf(e.Key).IsNil() {
			continue
		}
		if e.Key.IsMergeKey() {
			x.merge(e.Value, id)
			continue
		}
		key, ok := keyString(e.Key)
		if !ok {
			continue // a key no JSON path names; its problems fall back to the mapping
		}
		off, _ := x.start(e.Key)
		// A later entry of the same key replaces the earlier, as in the JSON.
		child := x.tree.add(posEdge{parent: id, key: key, index: -1}, off)
		if seen[key] {
			x.add(child, fmt.Sprintf("duplicate key %q", key))
		}
		seen[key] = true
		x.node(e.Value, child)
	}
}

// merge indexes the mapping (or sequence of mappings) merged in with "<<".
func (x *yamlIndex) merge(n ast.Node, id int32) {
	switch n := n.(type) {
	case *ast.MappingNode:
		x.mapping(n.Values, id)
	case *ast.MappingValueNode:
		x.mapping([]*ast.MappingValueNode{n}, id)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			x.merge(v, id)
		}
	case *ast.TagNode:
		x.merge(n.Value, id)
	}
}

func (x *yamlIndex) sequence(n *ast.SequenceNode, id int32) {
	for i, v := range n.Values {
		off, ok := x.start(v)
		if !ok && len(n.Entries) == len(n.Values) && n.Entries[i] != nil {
			if off, ok = x.offs[n.Entries[i].Start]; !ok {
				off = -1
			}
		}
		x.node(v, x.tree.add(posEdge{parent: id, index: int32(i)}, off))
	}
}

// start finds the byte offset of a node's first character, or -1. Tokens
// the parser made up (the null of an absent value) have no offset: goccy's
// position for them is not worth a scan of the source per node.
func (x *yamlIndex) start(n ast.Node) (int, bool) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return -1, false
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return x.start(v.Values[0])
		}
	case *ast.MappingValueNode:
		return x.start(v.Key)
	case *ast.MappingKeyNode:
		if off, ok := x.start(v.Value); ok {
			return off, true
		}
	}
	if off, ok := x.offs[n.GetToken()]; ok {
		return off, true
	}
	return -1, false
}

// add reports a problem at a node, placed where the node's path is (or its
// nearest ancestor with a position), as every other problem is placed.
func (x *yamlIndex) add(id int32, msg string) {
	p := sdk.Problem{Path: x.tree.path(id), Message: msg}
	if off, ok := x.tree.offset(id); ok {
		p.Line, p.Column = lineCol(x.data, off)
	}
	x.problems = append(x.problems, p)
}

// posTree holds the offset of every value of a YAML document, each keyed by
// its parent and its key or index. Unlike a map of whole paths, whose keys
// grow with the depth, its size is linear in the document however deeply it
// nests.
type posTree struct {
	nodes    []posNode // by id; 0 is the document's root
	children map[posEdge]int32
}

type posNode struct {
	off  int // byte offset in the source, or -1 when unknown
	edge posEdge
}

// posEdge names a value within its parent: a key, or an index (key unused).
type posEdge struct {
	parent int32
	index  int32 // -1 for a key
	key    string
}

func newPosTree(rootOff int) *posTree {
	return &posTree{nodes: []posNode{{off: rootOff, edge: posEdge{parent: -1, index: -1}}}, children: map[posEdge]int32{}}
}

// add records a value and returns its id.
func (t *posTree) add(e posEdge, off int) int32 {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, posNode{off: off, edge: e})
	t.children[e] = id
	return id
}

// lookup finds the offset of a path, or of its nearest ancestor with one.
func (t *posTree) lookup(path string) (int, bool) {
	id, best := int32(0), t.nodes[0].off
	for path != "" {
		e, rest, ok := nextSegment(path)
		if !ok {
			break
		}
		e.parent = id
		child, ok := t.children[e]
		if !ok {
			break
		}
		id, path = child, rest
		if off := t.nodes[id].off; off >= 0 {
			best = off
		}
	}
	return best, best >= 0
}

// offset is the offset of a node, or of its nearest ancestor with one.
func (t *posTree) offset(id int32) (int, bool) {
	for ; id >= 0; id = t.nodes[id].edge.parent {
		if off := t.nodes[id].off; off >= 0 {
			return off, true
		}
	}
	return 0, false
}

// path spells a node's path as sdk.KeyPath and "[i]" do; only problems need it.
func (t *posTree) path(id int32) string {
	var edges []posEdge
	for ; id > 0; id = t.nodes[id].edge.parent {
		edges = append(edges, t.nodes[id].edge)
	}
	p := ""
	for i := len(edges) - 1; i >= 0; i-- {
		if e := edges[i]; e.index >= 0 {
			p += "[" + strconv.Itoa(int(e.index)) + "]"
		} else {
			p = sdk.KeyPath(p, e.key)
		}
	}
	return p
}

// nextSegment splits the first segment off a path as sdk.KeyPath and "[i]"
// write them: key, .key, ["quoted key"] or [3].
func nextSegment(p string) (e posEdge, rest string, ok bool) {
	e.index = -1
	if p[0] == '.' {
		p = p[1:]
	}
	if p == "" {
		return e, "", false
	}
	if p[0] != '[' {
		end := len(p)
		if i := strings.IndexAny(p, ".["); i >= 0 {
			end = i
		}
		e.key = p[:end]
		return e, p[end:], end > 0
	}
	if len(p) > 1 && p[1] == '"' {
		q, err := strconv.QuotedPrefix(p[1:])
		if err != nil || !strings.HasPrefix(p[1+len(q):], "]") {
			return e, "", false
		}
		e.key, _ = strconv.Unquote(q)
		return e, p[2+len(q):], true
	}
	end := strings.IndexByte(p, ']')
	if end < 0 {
		return e, "", false
	}
	i, err := strconv.Atoi(p[1:end])
	if err != nil || i < 0 || i > math.MaxInt32 {
		return e, "", false
	}
	e.index = int32(i)
	return e, p[end+1:], true
}

// keyString is the JSON key the decoder makes of a mapping key: a string as
// it is, null as "null", any other value as fmt.Sprint prints it (decoded
// by goccy itself, so that tags such as !!float convert as they do there).
func keyString(k ast.MapKeyNode) (string, bool) {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value, true
	}
	var v any
	if err := yaml.NodeToValue(k, &v); err != nil {
		return "", false
	}
	switch v := v.(type) {
	case nil:
		return "null", true
	case string:
		return v, true
	default:
		return fmt.Sprint(v), true
	}
}
