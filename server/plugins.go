package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/weftworks/weft/plugins"
)

// Plugins is what /api/v1/plugins needs of the plugin host
// (plugins.Manager, bound to the engine's registry).
type Plugins interface {
	// List describes every plugin, sorted by name.
	List() []plugins.Status
	// Reload picks up new, changed and removed plugin binaries.
	Reload(ctx context.Context) (plugins.ReloadReport, error)
}

func (s *Server) pluginsOrFail() (Plugins, error) {
	if s.plugins == nil {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "this server runs no plugins")
	}
	return s.plugins, nil
}

func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pluginsOrFail()
	if err != nil {
		return err
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	items := p.List()
	if items == nil {
		items = []plugins.Status{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) reloadPlugins(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pluginsOrFail()
	if err != nil {
		return err
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	rep, err := p.Reload(r.Context())
	if err != nil {
		return fmt.Errorf("reload plugins: %w", err)
	}
	for _, l := range []*[]string{&rep.Added, &rep.Changed, &rep.Removed, &rep.Unchanged} {
		if *l == nil {
			*l = []string{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"report": rep, "items": p.List()})
	return nil
}
