package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
	guest "github.com/weftworks/weft/sdk/wasm"
)

// Modules added and removed at run time (uploads): Prepare compiles and
// checks one without touching what is loaded; Install swaps it in and keeps
// the registries the runtime was registered into up to date; AddModule does
// both. Their components are registered with Source "upload:<name>".

// UploadSourcePrefix starts the Source of a module added at run time.
const UploadSourcePrefix = "upload:"

var moduleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// CheckModuleName reports whether name can name a module added at run time:
// letters, digits, '_', '.' and '-', starting with a letter or digit, at
// most 100 characters.
func CheckModuleName(name string) error {
	if !moduleNamePattern.MatchString(name) {
		return fmt.Errorf("module name %q: %s", name, nameRule)
	}
	return nil
}

const nameRule = "use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 100 characters"

// Prepare compiles bin as the module name and checks it as Load checks the
// modules of its directory (imports, the ABI's exports, a first instance,
// its description), and that its components clash with nothing registered
// but a module of the same name added earlier. Nothing loaded changes:
// Install the module, or Close it. A module refused is a *ModuleError
// (a clash wraps core.ErrDuplicateComponent).
func (r *Runtime) Prepare(ctx context.Context, name string, bin []byte) (*Module, error) {
	if !moduleNamePattern.MatchString(name) {
		return nil, &ModuleError{Module: name, Reason: "bad name: " + nameRule}
	}
	m, err := r.compile(ctx, name, "", UploadSourcePrefix+name, bin)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	err = r.clashes(m)
	r.mu.Unlock()
	if err != nil {
		_ = m.Close(ctx)
		return nil, err
	}
	return m, nil
}

// clashes reports what would stop m from being installed. Call with r.mu
// held.
func (r *Runtime) clashes(m *Module) error {
	if cur, ok := r.Module(m.name); ok && cur.source != m.source {
		return fmt.Errorf("wasm module %q: %w: a module of that name comes from %s", m.name, core.ErrDuplicateComponent, cur.source)
	}
	var errs []error
	for _, reg := range r.regs {
		for _, e := range m.entries() {
			if have, ok := reg.Lookup(e.Kind, e.Name); ok && (have.Origin != core.OriginWASM || have.Source != m.source) {
				from := string(have.Origin)
				if have.Source != "" {
					from += " " + have.Source
				}
				errs = append(errs, fmt.Errorf("wasm module %q: %w: %s %q comes from %s", m.name, core.ErrDuplicateComponent, e.Kind, e.Name, from))
			}
		}
	}
	return errors.Join(errs...)
}

// Install adds a module that Prepare returned, replacing a module of the
// same name, and registers its transforms and validators in the registries
// the runtime was registered into (removing those the module it replaces
// served and it does not). Calls in flight on a replaced module finish on
// it; later calls, those of workflows compiled before included, go to the
// new one. On a clash (something registered since Prepare) nothing changes
// and the module is left to the caller to Close.
func (r *Runtime) Install(ctx context.Context, m *Module) error {
	if m.rt != r || m.path != "" {
		return fmt.Errorf("wasm module %q: not prepared by this runtime", m.name)
	}
	r.mu.Lock()
	if err := r.clashes(m); err != nil {
		r.mu.Unlock()
		return err
	}
	old, _ := r.Module(m.name)
	if old == m {
		r.mu.Unlock()
		return nil
	}
	r.swap(m.name, m)
	for _, reg := range r.regs {
		for _, e := range m.entries() {
			_ = reg.Replace(e) // checked by clashes; entries are valid (checkDescriptions)
		}
		if old != nil {
			for _, d := range old.components {
				if !m.serves(d.Kind, d.Name) {
					unregister(reg, d.Kind, d.Name, old.source)
				}
			}
		}
	}
	r.mu.Unlock()
	if old != nil {
		_ = old.Close(ctx)
	}
	return nil
}

// AddModule compiles, checks and installs bin as the module name: Prepare
// followed by Install.
func (r *Runtime) AddModule(ctx context.Context, name string, bin []byte) (*Module, error) {
	m, err := r.Prepare(ctx, name, bin)
	if err != nil {
		return nil, err
	}
	if err := r.Install(ctx, m); err != nil {
		_ = m.Close(ctx)
		return nil, err
	}
	return m, nil
}

// RemoveModule removes a module added at run time and its components from
// the registries, and closes it: calls in flight finish, later ones fail
// with WASM_MODULE_REMOVED. It reports whether there was such a module;
// modules of the modules directory are not removed.
func (r *Runtime) RemoveModule(ctx context.Context, name string) bool {
	r.mu.Lock()
	m, ok := r.Module(name)
	if !ok || m.path != "" {
		r.mu.Unlock()
		return false
	}
	r.swap(name, nil)
	for _, reg := range r.regs {
		for _, d := range m.components {
			unregister(reg, d.Kind, d.Name, m.source)
		}
	}
	r.mu.Unlock()
	_ = m.Close(ctx)
	return true
}

// swap replaces (m nil: removes) a module in the copy-on-write map. Call
// with r.mu held.
func (r *Runtime) swap(name string, m *Module) {
	cur := *r.modules.Load()
	next := make(map[string]*Module, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	if m == nil {
		delete(next, name)
	} else {
		next[name] = m
	}
	r.modules.Store(&next)
}

// unregister removes a component from reg if it is the one from source.
func unregister(reg *core.Registry, kind sdk.Kind, name, source string) {
	if kind != sdk.KindTransform && kind != sdk.KindValidator {
		return
	}
	if e, ok := reg.Lookup(kind, name); ok && e.Origin == core.OriginWASM && e.Source == source {
		reg.Unregister(kind, name)
	}
}

// sectionNames are the names wazero gives sections in its errors, by id.
var sectionNames = map[byte]string{0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
	6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data_count", 13: "tag"}

// sectionRank orders the sections that must come in order (custom ones may
// be anywhere).
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type section struct {
	id          byte
	offset      int // of the section's id byte
	size        int // of its content
	contentFrom int
}

// sections walks the section headers of a binary that starts with the
// magic and version. truncated describes a header or a section that runs
// past the end.
func sections(bin []byte) (out []section, truncated string) {
	for at := 8; at < len(bin); {
		s := section{id: bin[at], offset: at}
		size, n := uleb128(bin[at+1:])
		if n == 0 {
			return out, fmt.Sprintf("the size of section %s at byte offset %d is cut off", sectionName(s.id), at)
		}
		s.size, s.contentFrom = int(size), at+1+n
		out = append(out, s)
		if end := s.contentFrom + s.size; end > len(bin) {
			return out, fmt.Sprintf("section %s at byte offset %d declares %d bytes but %d remain (the file is truncated?)",
				sectionName(s.id), at, s.size, len(bin)-s.contentFrom)
		}
		at = s.contentFrom + s.size
	}
	return out, ""
}

func sectionName(id byte) string {
	if n, ok := sectionNames[id]; ok {
		return n
	}
	return fmt.Sprintf("with unknown id %d", id)
}

// uleb128 decodes an unsigned LEB128 of at most 32 bits; n is 0 when it is
// cut off or too long.
func uleb128(b []byte) (v uint32, n int) {
	for i := 0; i < len(b) && i < 5; i++ {
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// compileError says where a compile error is: wazero names the section
// that failed to decode (or says the order is wrong, or the header); this
// adds the section's byte offset in the binary.
func compileError(bin []byte, err error) (msg string) {
	msg = err.Error()
	switch {
	case strings.HasPrefix(msg, "invalid magic number"):
		return msg + " (at byte offset 0)"
	case strings.HasPrefix(msg, "invalid version header"):
		return msg + " (at byte offset 4)"
	}
	secs, truncated := sections(bin)
	if truncated != "" {
		defer func() { msg += "; " + truncated }()
	}
	switch {
	case msg == "invalid section order":
		last := 0
		for _, s := range secs {
			if s.id == 0 {
				continue
			}
			r, known := sectionRank[s.id]
			if !known {
				msg = fmt.Sprintf("unknown section id %d at byte offset %d", s.id, s.offset)
				return msg
			}
			if r <= last {
				msg = fmt.Sprintf("%s: section %s at byte offset %d comes after a section that must follow it", msg, sectionName(s.id), s.offset)
				return msg
			}
			last = r
		}
	case strings.HasPrefix(msg, "section ") || strings.HasPrefix(msg, "get size of section "):
		name := strings.TrimPrefix(strings.TrimPrefix(msg, "get size of "), "section ")
		name, _, _ = strings.Cut(name, ":")
		// Only custom sections may repeat; wazero stops at the first that
		// fails.
		for _, s := range secs {
			if sectionName(s.id) == name {
				msg = fmt.Sprintf("%s (section %s at byte offset %d, %d bytes)", msg, name, s.offset, s.size)
				return msg
			}
		}
	}
	return msg
}

// callLive calls the component of req on the module serving it now (see
// live). A call that found the pool closed, its module replaced or removed
// meanwhile (the guest did not run), is tried once more on the module
// serving the component then.
func (m *Module) callLive(ctx context.Context, req guest.Request) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		cur, err := m.live(req.Kind, req.Name)
		if err != nil {
			return nil, err
		}
		out, err := cur.call(ctx, req)
		if err != nil && attempt == 0 && errors.Is(err, errPoolClosed) {
			continue
		}
		return out, err
	}
}
