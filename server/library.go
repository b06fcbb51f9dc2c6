package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Stored scripts: /api/v1/transformation-rules (Lua rules) and
// /api/v1/modules (uploaded WASM modules). scripting/library implements
// both interfaces: it compiles before storing, stores, and loads into this
// instance (others pick changes up at their next sync).

// DefaultMaxModuleSize bounds an uploaded module unless
// Options.MaxModuleSize says otherwise. A standard Go guest is a few MiB.
const DefaultMaxModuleSize = 32 << 20

// Rules stores and loads transformation rules.
type Rules interface {
	// ListRules lists the rules by name.
	ListRules(ctx context.Context) ([]core.StoredRule, error)
	// GetRule returns a rule, or core.ErrNotFound.
	GetRule(ctx context.Context, name string) (core.StoredRule, error)
	// CreateRule compiles, stores and loads a rule: a syntax error is a
	// *sdk.ValidationError with its line and column, a name taken
	// core.ErrExists (core.ErrDuplicateComponent when a transform from
	// elsewhere has it).
	CreateRule(ctx context.Context, r core.StoredRule) (core.StoredRule, error)
	// UpdateRule compiles, stores and loads a rule's next version;
	// ifVersion > 0 must be the current one, else core.ErrConflict.
	UpdateRule(ctx context.Context, name string, ifVersion int, r core.StoredRule) (core.StoredRule, error)
	// DeleteRule deletes and unloads a rule, or returns core.ErrNotFound.
	DeleteRule(ctx context.Context, name string) error
}

// Modules stores and loads uploaded WASM modules.
type Modules interface {
	// ListModules lists the modules by name, without their code.
	ListModules(ctx context.Context) ([]core.StoredModule, error)
	// GetModule returns a module without its code, or core.ErrNotFound.
	GetModule(ctx context.Context, name string) (core.StoredModule, error)
	// UploadModule compiles and checks, stores and loads a module; one that
	// is refused is stored nowhere. An existing name is replaced with
	// replace, else core.ErrExists.
	UploadModule(ctx context.Context, name string, bin []byte, replace bool) (core.StoredModule, bool, error)
	// DeleteModule deletes and unloads a module, or returns core.ErrNotFound.
	DeleteModule(ctx context.Context, name string) error
}

// rawBodyLimit is the body cap of routes whose body is not JSON (a module
// upload), and whether rt is one: they check their own media type.
func (s *Server) rawBodyLimit(rt route) (int64, bool) {
	if rt.method == http.MethodPost && rt.path == "/api/v1/modules" {
		return s.maxModuleSize, true
	}
	return 0, false
}

func (s *Server) rulesOrFail() (Rules, error) {
	if s.rules == nil {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "this server keeps no transformation rules")
	}
	return s.rules, nil
}

func (s *Server) modulesOrFail() (Modules, error) {
	if s.modules == nil {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "this server runs no uploaded WASM modules")
	}
	return s.modules, nil
}

// ruleRequest is the body of POST and PUT: a rule without its times and
// version (a rule as GET answers it is accepted back: version is an
// If-Match, the times are ignored).
type ruleRequest struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Language    string    `json:"language"`
	Source      string    `json:"source"`
	Config      any       `json:"config"`
	Version     int       `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func (q ruleRequest) rule() core.StoredRule {
	return core.StoredRule{Name: q.Name, Description: q.Description, Language: q.Language, Source: q.Source, Config: q.Config}
}

// ruleError maps what the library says about a rule to the API's errors.
func ruleError(name, what string, ifVersion int, err error) error {
	var ve *sdk.ValidationError
	switch {
	case errors.As(err, &ve):
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: ve.Error(), Details: ve.Problems}
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "transformation rule %q not found", name)
	case errors.Is(err, core.ErrExists):
		return errorf(http.StatusConflict, CodeConflict, "a transformation rule named %q exists: update it with PUT /api/v1/transformation-rules/%s", name, name)
	case errors.Is(err, core.ErrDuplicateComponent):
		return errorf(http.StatusConflict, CodeConflict, "%v", err)
	case errors.Is(err, core.ErrConflict):
		return errorf(http.StatusConflict, CodeConflict, "transformation rule %q is no longer at version %d: fetch it again and reapply your change", name, ifVersion)
	}
	return fmt.Errorf("%s rule %q: %w", what, name, err)
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.rulesOrFail()
	if err != nil {
		return err
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	items, err := rules.ListRules(r.Context())
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	if items == nil {
		items = []core.StoredRule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.rulesOrFail()
	if err != nil {
		return err
	}
	var req ruleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "name: is required",
			Details: []sdk.Problem{{Path: "name", Message: "is required"}}}
	}
	rule, err := rules.CreateRule(r.Context(), req.rule())
	if err != nil {
		return ruleError(req.Name, "create", 0, err)
	}
	w.Header().Set("Location", "/api/v1/transformation-rules/"+rule.Name)
	w.Header().Set("ETag", etag(rule.Version))
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.rulesOrFail()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	rule, err := rules.GetRule(r.Context(), name)
	if err != nil {
		return ruleError(name, "get", 0, err)
	}
	w.Header().Set("ETag", etag(rule.Version))
	writeJSON(w, http.StatusOK, rule)
	return nil
}

// updateRule replaces a rule's source, description, language and config;
// the name in the path is the rule's (a name in the body must be the same).
func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.rulesOrFail()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	ifVersion, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req ruleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation,
			Message: fmt.Sprintf("name: %q differs from the rule's name %q in the path (rules are not renamed: create one and delete the other)", req.Name, name),
			Details: []sdk.Problem{{Path: "name", Message: "differs from the name in the path"}}}
	}
	if ifVersion == 0 {
		ifVersion = req.Version // a version in the body is an If-Match too
	}
	rule, err := rules.UpdateRule(r.Context(), name, ifVersion, req.rule())
	if err != nil {
		return ruleError(name, "update", ifVersion, err)
	}
	w.Header().Set("ETag", etag(rule.Version))
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.rulesOrFail()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := rules.DeleteRule(r.Context(), name); err != nil {
		return ruleError(name, "delete", 0, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// moduleError maps what the library says about a module to the API's
// errors. A module the runtime refuses (not WASM, does not compile, no
// ABI) is 422 with the reason.
func moduleError(name, what string, err error) error {
	var me interface{ ModuleReason() string }
	switch {
	case errors.As(err, &me):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeUnprocessable, Message: err.Error(),
			Details: []sdk.Problem{{Path: "body", Message: me.ModuleReason()}}}
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "module %q not found", name)
	case errors.Is(err, core.ErrExists):
		return errorf(http.StatusConflict, CodeConflict, "a module named %q exists: add ?replace=true to replace it", name)
	case errors.Is(err, core.ErrDuplicateComponent):
		return errorf(http.StatusConflict, CodeConflict, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return fmt.Errorf("%s module %q: %w", what, name, err)
}

func (s *Server) listModules(w http.ResponseWriter, r *http.Request) error {
	mods, err := s.modulesOrFail()
	if err != nil {
		return err
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	items, err := mods.ListModules(r.Context())
	if err != nil {
		return fmt.Errorf("list modules: %w", err)
	}
	if items == nil {
		items = []core.StoredModule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) getModule(w http.ResponseWriter, r *http.Request) error {
	mods, err := s.modulesOrFail()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	m, err := mods.GetModule(r.Context(), name)
	if err != nil {
		return moduleError(name, "get", err)
	}
	w.Header().Set("ETag", `"`+m.SHA256+`"`)
	writeJSON(w, http.StatusOK, m)
	return nil
}

// uploadModule takes a module's code as the raw request body
// (Content-Type: application/wasm or application/octet-stream), named by
// ?name=; ?replace=true replaces a module of that name.
func (s *Server) uploadModule(w http.ResponseWriter, r *http.Request) error {
	mods, err := s.modulesOrFail()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "name", "replace"); err != nil {
		return err
	}
	name := q.Get("name")
	if name == "" {
		return badParam("name", "is required: the module's name, e.g. ?name=leads")
	}
	replace := false
	switch q.Get("replace") {
	case "", "false":
	case "true":
		replace = true
	default:
		return badParam("replace", "%q is not true or false", q.Get("replace"))
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/wasm" && mt != "application/octet-stream") {
			return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType,
				"Content-Type %q is not accepted: send the module's bytes with \"Content-Type: application/wasm\"", ct)
		}
	}
	bin, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413
	}
	if len(bin) == 0 {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "the request body is empty: send the module's bytes (curl --data-binary @module.wasm)")
	}
	m, created, err := mods.UploadModule(r.Context(), name, bin, replace)
	if err != nil {
		return moduleError(name, "upload", err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/modules/"+m.Name)
	}
	w.Header().Set("ETag", `"`+m.SHA256+`"`)
	writeJSON(w, status, m)
	return nil
}

func (s *Server) deleteModule(w http.ResponseWriter, r *http.Request) error {
	mods, err := s.modulesOrFail()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := mods.DeleteModule(r.Context(), name); err != nil {
		return moduleError(name, "delete", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
