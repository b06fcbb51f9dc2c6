package server

import (
	"bytes"
	"encoding/json"
	"io"
)

// readOnlyFields are the fields of a workflow as GET answers it that are not
// part of a definition: a client may send them back in a PUT (read, change,
// write), and they are ignored.
var readOnlyFields = map[string]bool{"createdAt": true, "updatedAt": true}

// blankReadOnly overwrites the top-level read-only fields of a JSON object
// with spaces, so that the definition parser, which refuses unknown fields,
// never sees them — and every other byte keeps its line and column for the
// problems it reports. Anything that is not a JSON object is returned as is
// (YAML, or invalid JSON the parser then explains).
func blankReadOnly(data []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return data
	}
	type span struct{ from, to int }
	var spans []span
	for dec.More() {
		from := int(dec.InputOffset()) // just before the key (and its comma)
		key, err := dec.Token()
		if err != nil {
			return data
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return data
		}
		if k, ok := key.(string); ok && readOnlyFields[k] {
			spans = append(spans, span{from, int(dec.InputOffset())})
		}
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return data
	}
	if len(spans) == 0 {
		return data
	}
	out := bytes.Clone(data)
	for _, sp := range spans {
		blank(out, sp.from, sp.to)
	}
	return fixCommas(out)
}

// blank turns out[from:to] into spaces, keeping newlines.
func blank(out []byte, from, to int) {
	for i := from; i < to; i++ {
		if out[i] != '\n' && out[i] != '\r' {
			out[i] = ' '
		}
	}
}

// fixCommas removes the commas a blanked field leaves dangling in the
// top-level object: a comma followed (after spaces) by another comma or by
// the closing brace, or following the opening brace.
func fixCommas(out []byte) []byte {
	depth, inString, escaped := 0, false, false
	last := -1 // index of the last significant top-level byte
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 1 && c == '}' && last >= 0 && out[last] == ',' {
				out[last] = ' '
			}
			depth--
		case ',':
			if depth == 1 && last >= 0 && (out[last] == ',' || out[last] == '{') {
				out[i] = ' '
				continue
			}
		}
		last = i
	}
	return out
}
