package wasm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A JSON decoder and encoder for the values a component sees (nil, bool,
// float64, string, []any, map[string]any), used on the call path instead of
// encoding/json.
//
// Why: under wazero with WithCloseOnContextDone, every backward jump and
// every call of a Go guest leaves the compiled code for a termination check,
// so guest cost grows with the number of branches taken. encoding/json scans
// every input twice (validation, then decoding) through an indirect call per
// byte and decodes through reflection; these do one pass, 8 bytes at a time
// over plain string contents. They produce what encoding/json produces for an
// `any` target (TestDecodeJSONMatchesEncodingJSON, FuzzDecodeJSON), and
// anything else is encoded by encoding/json.

// maxDepth is encoding/json's nesting limit, kept so that no input can grow
// the guest's stack without bound.
const maxDepth = 10000

// cycleDepth is the nesting past which appendJSON hands a value to
// encoding/json, which reports cycles instead of recursing for ever.
const cycleDepth = 1000

type decoder struct {
	b     []byte
	i     int
	depth int
}

// decodeJSON decodes one JSON text into the value encoding/json would store in
// an `any`. Strings are copied: b may be reused afterwards.
func decodeJSON(b []byte) (any, error) {
	d := decoder{b: b}
	d.space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(d.b) {
		return nil, d.unexpected("after top-level value")
	}
	return v, nil
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) unexpected(context string) error {
	if d.i >= len(d.b) {
		return fmt.Errorf("json: unexpected end of input at offset %d", d.i)
	}
	return fmt.Errorf("json: invalid character %q at offset %d %s", d.b[d.i], d.i, context)
}

func (d *decoder) value() (any, error) {
	if d.i >= len(d.b) {
		return nil, d.unexpected("")
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.str()
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.unexpected("looking for beginning of value")
}

func (d *decoder) literal(lit string) error {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		for j := 0; j < len(lit) && d.i < len(d.b) && d.b[d.i] == lit[j]; j++ {
			d.i++
		}
		return d.unexpected("in literal " + lit)
	}
	d.i += len(lit)
	return nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return fmt.Errorf("json: exceeded max depth at offset %d", d.i)
	}
	return nil
}

func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // '{'
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth--
		return m, nil
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.unexpected("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.unexpected("after object key")
		}
		d.i++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.i < len(d.b) {
			switch d.b[d.i] {
			case ',':
				d.i++
				d.space()
				continue
			case '}':
				d.i++
				d.depth--
				return m, nil
			}
		}
		return nil, d.unexpected("after object key:value pair")
	}
}

func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // '['
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.space()
		if d.i < len(d.b) {
			switch d.b[d.i] {
			case ',':
				d.i++
				d.space()
				continue
			case ']':
				d.i++
				d.depth--
				return a, nil
			}
		}
		return nil, d.unexpected("after array element")
	}
}

func (d *decoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if d.digits() == 0 {
		return nil, d.unexpected("in numeric literal")
	}
	integer := true
	if d.i < len(d.b) && d.b[d.i] == '.' {
		integer = false
		d.i++
		if d.digits() == 0 {
			return nil, d.unexpected("after decimal point in numeric literal")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		integer = false
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, d.unexpected("in exponent of numeric literal")
		}
	}
	lit := d.b[start:d.i]
	// Integers of up to 15 digits are exact in a float64: no ParseFloat.
	if digits := lit; integer && len(digits) <= 16 {
		neg := digits[0] == '-'
		if neg {
			digits = digits[1:]
		}
		if len(digits) <= 15 {
			var n int64
			for _, c := range digits {
				n = n*10 + int64(c-'0')
			}
			if neg {
				return -float64(n), nil
			}
			return float64(n), nil
		}
	}
	// The literal is not kept: ParseFloat copies what it puts in an error.
	f, err := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64)
	if err != nil {
		return nil, fmt.Errorf("json: number %s at offset %d does not fit a float64", lit, start)
	}
	return f, nil
}

// Masks of the 8-bytes-at-a-time scan (Hacker's Delight / "bit twiddling
// hacks": a byte is zero, a byte is less than n).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain reports whether none of the 8 bytes of w needs attention inside a
// JSON string: no '"', no '\\', no control character, nothing beyond ASCII.
func plain(w uint64) bool {
	q := w ^ (ones * '"')
	bs := w ^ (ones * '\\')
	special := (q - ones) & ^q      // a '"'
	special |= (bs - ones) & ^bs    // a '\\'
	special |= (w - ones*0x20) & ^w // a byte < 0x20
	return (special|w)&highs == 0   // or a byte >= 0x80
}

func (d *decoder) str() (string, error) {
	start := d.i + 1 // after '"'
	i := start
	b := d.b
	for i+8 <= len(b) && plain(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for i < len(b) {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			return string(b[start:i]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	return d.strSlow(start, i)
}

// strSlow decodes a string with escapes or non-ASCII text, from i on, as
// encoding/json does: invalid UTF-8 and lone surrogates become U+FFFD.
func (d *decoder) strSlow(start, i int) (string, error) {
	b := d.b
	out := make([]byte, 0, i-start+16)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(out), nil
		case c < 0x20:
			d.i = i
			return "", d.unexpected("in string literal")
		case c == '\\':
			if i+1 >= len(b) {
				d.i = len(b)
				return "", d.unexpected("")
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b[i+2:])
				if !ok {
					d.i = min(i+2, len(b))
					return "", d.unexpected("in \\u hexadecimal character escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if len(b)-i >= 6 && b[i] == '\\' && b[i+1] == 'u' {
						if r2, ok := hex4(b[i+2:]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				d.i = i + 1
				return "", d.unexpected("in string escape code")
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	d.i = len(b)
	return "", d.unexpected("")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendJSON appends the JSON encoding of v to b. The values a component
// usually returns are encoded here; any other type (structs, typed maps and
// slices, json.Marshaler, NaN) goes to encoding/json, errors included. Map
// keys are sorted, as encoding/json sorts them. HTML characters are not
// escaped: the answer goes to the host, not into a page.
func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			break
		}
		return appendFloat(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth >= cycleDepth {
			break
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for n, k := range keys {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth >= cycleDepth {
			break
		}
		b = append(b, '[')
		for n, e := range x {
			if n > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for n, e := range x {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendFloat formats f as encoding/json does (ES6 number formatting).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as in encoding/json.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// in encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start, i := 0, 0
	for {
		for i+8 <= len(s) && plain(loadString8(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func loadString8(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}
