package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// Stored scripts (scripting/library.Store): transformation rules and
// uploaded WASM modules, by name. Every instance sharing the database loads
// them; a rule's version and a module's SHA-256 tell an instance what
// changed.

// WasmModule is an uploaded WASM module: its code and what it serves.
type WasmModule struct {
	bun.BaseModel `bun:"table:wasm_modules"`

	Name       string `bun:"name,pk"`
	SHA256     string `bun:"sha256"`
	Size       int64
	Code       []byte `bun:"code"`
	Components JSON
	CreatedAt  int64
	UpdatedAt  int64
}

func (r *TransformationRule) rule() (core.StoredRule, error) {
	out := core.StoredRule{Name: r.Name, Description: r.Description, Language: r.Language, Source: r.Source,
		Version: r.Version, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := fromJSON(r.Config, &out.Config); err != nil {
		return core.StoredRule{}, fmt.Errorf("rule %q: config: %w", r.Name, err)
	}
	return out, nil
}

// ListRules lists every transformation rule, by name.
func (s *Store) ListRules(ctx context.Context) ([]core.StoredRule, error) {
	var rows []TransformationRule
	if err := s.db.bun.NewSelect().Model(&rows).OrderExpr("name").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]core.StoredRule, 0, len(rows))
	for i := range rows {
		r, err := rows[i].rule()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// GetRule returns a rule by name, or core.ErrNotFound.
func (s *Store) GetRule(ctx context.Context, name string) (core.StoredRule, error) {
	row := new(TransformationRule)
	err := s.db.bun.NewSelect().Model(row).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return core.StoredRule{}, fmt.Errorf("rule %q: %w", name, core.ErrNotFound)
	}
	if err != nil {
		return core.StoredRule{}, fmt.Errorf("get rule %q: %w", name, err)
	}
	return row.rule()
}

// CreateRule stores a new rule at version 1, or returns core.ErrExists when
// the name is taken.
func (s *Store) CreateRule(ctx context.Context, r core.StoredRule) (core.StoredRule, error) {
	cfg, err := toJSON(r.Config)
	if err != nil {
		return core.StoredRule{}, fmt.Errorf("create rule %q: config: %w", r.Name, err)
	}
	now := micros(s.now())
	row := &TransformationRule{ID: uuid.Must(uuid.NewV7()).String(), Name: r.Name, Description: r.Description,
		Language: r.Language, Source: r.Source, Config: cfg, Version: 1, CreatedAt: now, UpdatedAt: now}
	var inserted bool
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		inserted = n > 0
		return nil
	})
	if err != nil {
		return core.StoredRule{}, fmt.Errorf("create rule %q: %w", r.Name, err)
	}
	if !inserted {
		return core.StoredRule{}, fmt.Errorf("rule %q: %w", r.Name, core.ErrExists)
	}
	return row.rule()
}

// UpdateRule replaces a rule's description, language, source and config.
// ifVersion > 0 must be its current version, else core.ErrConflict. A
// change makes the next version; an update that changes nothing makes
// none. As for workflows, the check and the write are one transaction
// guarded by the version read.
func (s *Store) UpdateRule(ctx context.Context, name string, ifVersion int, r core.StoredRule) (core.StoredRule, error) {
	cfg, err := toJSON(r.Config)
	if err != nil {
		return core.StoredRule{}, fmt.Errorf("update rule %q: config: %w", name, err)
	}
	now := micros(s.now())
	var row TransformationRule
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		row = TransformationRule{}
		if err := s.lockForUpdate(ctx, tx.NewSelect().Model(&row).Where("name = ?", name)); err != nil {
			return err
		}
		if err := checkVersion(row.Version, ifVersion); err != nil {
			return err
		}
		var oldCfg, newCfg any
		_ = fromJSON(row.Config, &oldCfg)
		_ = fromJSON(cfg, &newCfg)
		if row.Description == r.Description && row.Language == r.Language && row.Source == r.Source && reflect.DeepEqual(oldCfg, newCfg) {
			return nil
		}
		read := row.Version
		row.Description, row.Language, row.Source, row.Config = r.Description, r.Language, r.Source, cfg
		row.Version, row.UpdatedAt = read+1, now
		res, err := tx.NewUpdate().Model(&row).Column("description", "language", "source", "config", "version", "updated_at").
			Where("name = ? AND version = ?", name, read).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w (version %d was just replaced)", core.ErrConflict, read)
		}
		return nil
	})
	if err != nil {
		return core.StoredRule{}, fmt.Errorf("update rule %q: %w", name, err)
	}
	return row.rule()
}

// DeleteRule deletes a rule, or returns core.ErrNotFound.
func (s *Store) DeleteRule(ctx context.Context, name string) error {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*TransformationRule)(nil)).Where("name = ?", name).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("rule %q: %w", name, core.ErrNotFound)
	}
	return nil
}

func (r *WasmModule) module() (core.StoredModule, error) {
	out := core.StoredModule{Name: r.Name, SHA256: r.SHA256, Size: r.Size,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := fromJSON(r.Components, &out.Components); err != nil {
		return core.StoredModule{}, fmt.Errorf("module %q: components: %w", r.Name, err)
	}
	if out.Components == nil {
		out.Components = []core.ModuleComponent{}
	}
	return out, nil
}

// moduleColumns are the columns of a module but its code.
var moduleColumns = []string{"name", "sha256", "size", "components", "created_at", "updated_at"}

// ListModules lists the uploaded modules by name, without their code.
func (s *Store) ListModules(ctx context.Context) ([]core.StoredModule, error) {
	var rows []WasmModule
	if err := s.db.bun.NewSelect().Model(&rows).Column(moduleColumns...).OrderExpr("name").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list modules: %w", err)
	}
	out := make([]core.StoredModule, 0, len(rows))
	for i := range rows {
		m, err := rows[i].module()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// GetModule returns a module without its code, or core.ErrNotFound.
func (s *Store) GetModule(ctx context.Context, name string) (core.StoredModule, error) {
	row := new(WasmModule)
	err := s.db.bun.NewSelect().Model(row).Column(moduleColumns...).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return core.StoredModule{}, fmt.Errorf("module %q: %w", name, core.ErrNotFound)
	}
	if err != nil {
		return core.StoredModule{}, fmt.Errorf("get module %q: %w", name, err)
	}
	return row.module()
}

// ModuleBinary returns a module with its code, or core.ErrNotFound.
func (s *Store) ModuleBinary(ctx context.Context, name string) (core.StoredModule, error) {
	row := new(WasmModule)
	err := s.db.bun.NewSelect().Model(row).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return core.StoredModule{}, fmt.Errorf("module %q: %w", name, core.ErrNotFound)
	}
	if err != nil {
		return core.StoredModule{}, fmt.Errorf("read module %q: %w", name, err)
	}
	m, err := row.module()
	m.Binary = row.Code
	return m, err
}

// SaveModule stores a module (Name, SHA256, Binary and Components set; Size
// is the code's). A module of that name is replaced when replace is set,
// else core.ErrExists; created says whether there was none.
func (s *Store) SaveModule(ctx context.Context, m core.StoredModule, replace bool) (core.StoredModule, bool, error) {
	if m.Name == "" || m.SHA256 == "" || len(m.Binary) == 0 {
		return core.StoredModule{}, false, fmt.Errorf("save module %q: its name, SHA-256 and code are required", m.Name)
	}
	comps, err := toJSON(m.Components)
	if err != nil {
		return core.StoredModule{}, false, fmt.Errorf("save module %q: components: %w", m.Name, err)
	}
	if comps == nil {
		comps = JSON("[]")
	}
	now := micros(s.now())
	row := &WasmModule{Name: m.Name, SHA256: m.SHA256, Size: int64(len(m.Binary)), Code: m.Binary,
		Components: comps, CreatedAt: now, UpdatedAt: now}
	var created, exists bool
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		created, exists = false, false
		res, err := tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			created = true
			return nil
		}
		if !replace {
			exists = true
			return nil
		}
		var createdAt int64
		if err := tx.NewSelect().Model((*WasmModule)(nil)).Column("created_at").Where("name = ?", m.Name).Scan(ctx, &createdAt); err != nil {
			return err
		}
		row.CreatedAt = createdAt
		_, err = tx.NewUpdate().Model(row).Column("sha256", "size", "code", "components", "updated_at").
			Where("name = ?", m.Name).Exec(ctx)
		return err
	})
	if err != nil {
		return core.StoredModule{}, false, fmt.Errorf("save module %q: %w", m.Name, err)
	}
	if exists {
		return core.StoredModule{}, false, fmt.Errorf("module %q: %w", m.Name, core.ErrExists)
	}
	out, err := row.module()
	return out, created, err
}

// DeleteModule deletes a module, or returns core.ErrNotFound.
func (s *Store) DeleteModule(ctx context.Context, name string) error {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*WasmModule)(nil)).Where("name = ?", name).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete module %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("module %q: %w", name, core.ErrNotFound)
	}
	return nil
}
