package core

import (
	"errors"
	"time"

	"github.com/weftworks/weft/sdk"
)

// ErrExists is returned when a record is created under a name that is
// taken.
var ErrExists = errors.New("already exists")

// StoredRule is a TransformationRule as stored: a named script, in the
// database so that every instance sharing it runs the same one. A Lua rule
// is the transform Name (a DATA_TRANSFORM {"type": "transform", "name": …}
// operation) and the script of a LUA step {"rule": …}.
type StoredRule struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Language is the script's language; "lua" is the only one.
	Language string `json:"language"`
	Source   string `json:"source"`
	// Config is the script's ctx.config when the operation using it gives
	// none.
	Config any `json:"config,omitempty"`
	// Version counts the rule's revisions from 1; an update must name the
	// current one (If-Match) or give none.
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// StoredModule is an uploaded WASM module as stored: its name, the SHA-256
// of its code, and what it serves, as it described itself when uploaded.
type StoredModule struct {
	Name       string            `json:"name"`
	SHA256     string            `json:"sha256"`
	Size       int64             `json:"size"`
	Components []ModuleComponent `json:"components"`
	CreatedAt  time.Time         `json:"createdAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
	// Binary is the module's code: set when saving, and only when read
	// through a store's ModuleBinary.
	Binary []byte `json:"-"`
}

// ModuleComponent is one component a WASM module serves.
type ModuleComponent struct {
	Kind    sdk.Kind `json:"kind"`
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Summary string   `json:"summary,omitempty"`
}
