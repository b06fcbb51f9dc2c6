package db

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// The catalog (server.Catalog): the workflows people create, edit and
// delete, and the listing of executions. A workflow's row holds its current
// version and status; each version's definition is an immutable row of
// workflow_versions, which executions refer to (and which deleting the
// workflow keeps).

// Listing page sizes.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// pageSize is the size of a page asked for: the default when not given,
// never more than the maximum.
func pageSize(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

// encodedDefinition is a workflow definition ready to be written: its encoded
// definition (with its id; without version and status, which the workflow's
// row holds), its content hash and its tags.
type encodedDefinition struct {
	def, tags JSON
	hash      string
}

func storedDefinition(wf *core.Workflow, id string) (encodedDefinition, error) {
	hash, err := core.DefinitionHash(wf)
	if err != nil {
		return encodedDefinition{}, err
	}
	cp := *wf
	cp.ID, cp.Version, cp.Status = id, 0, ""
	b, err := encode(&cp)
	if err != nil {
		return encodedDefinition{}, fmt.Errorf("encode definition: %w", err)
	}
	tags, err := toJSON(wf.Tags)
	if err != nil {
		return encodedDefinition{}, fmt.Errorf("encode tags: %w", err)
	}
	return encodedDefinition{def: storable(b), tags: tags, hash: hash}, nil
}

// info turns a workflow's row into the stored workflow it describes.
func (r *Workflow) info() (*core.WorkflowInfo, error) {
	wf := new(core.Workflow)
	if err := fromJSON(r.Definition, wf); err != nil {
		return nil, fmt.Errorf("workflow %s version %d: %w", r.ID, r.Version, err)
	}
	wf.ID, wf.Version, wf.Status = r.ID, r.Version, core.WorkflowStatus(r.Status)
	return &core.WorkflowInfo{Workflow: wf, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}, nil
}

// CreateWorkflow stores a new workflow: a new id, version 1, ACTIVE unless
// the definition says otherwise.
func (s *Store) CreateWorkflow(ctx context.Context, wf *core.Workflow) (*core.WorkflowInfo, error) {
	if wf == nil {
		return nil, errors.New("create workflow: no definition")
	}
	row, st, err := s.newWorkflowRow(wf)
	if err != nil {
		return nil, fmt.Errorf("create workflow %q: %w", wf.Name, err)
	}
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error { return insertWorkflow(ctx, tx, row, st) })
	if err != nil {
		return nil, fmt.Errorf("create workflow %q: %w", wf.Name, err)
	}
	return row.info()
}

// newWorkflowRow is the row of a new workflow: a new id, version 1, ACTIVE
// unless the definition says otherwise.
func (s *Store) newWorkflowRow(wf *core.Workflow) (*Workflow, encodedDefinition, error) {
	id := uuid.Must(uuid.NewV7()).String()
	st, err := storedDefinition(wf, id)
	if err != nil {
		return nil, st, err
	}
	status := WorkflowStatus(wf.Status)
	if status == "" {
		status = WorkflowActive
	}
	now := micros(s.now())
	return &Workflow{ID: id, Name: wf.Name, Description: wf.Description, Category: wf.Category, Status: status,
		Version: 1, Definition: st.def, Tags: st.tags, CreatedAt: now, UpdatedAt: now}, st, nil
}

// insertWorkflow writes a new workflow's row and its first version.
func insertWorkflow(ctx context.Context, tx bun.Tx, row *Workflow, st encodedDefinition) error {
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return err
	}
	_, err := tx.NewInsert().Model(&WorkflowVersion{WorkflowID: row.ID, Version: 1, Definition: st.def, Hash: st.hash, CreatedAt: row.CreatedAt}).Exec(ctx)
	return err
}

// GetWorkflow returns the current version of a workflow that is not
// deleted, or core.ErrNotFound.
func (s *Store) GetWorkflow(ctx context.Context, id string) (*core.WorkflowInfo, error) {
	row := new(Workflow)
	err := s.db.bun.NewSelect().Model(row).Where("id = ? AND deleted_at = 0", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workflow %s: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %s: %w", id, err)
	}
	return row.info()
}

// UpdateWorkflow replaces a workflow's definition and status. A changed
// definition (another hash) becomes the next version; the same one only
// changes the status. ifVersion > 0 must be the current version, else
// core.ErrConflict. A definition without a status keeps the workflow's.
//
// The check and the write are one transaction, and the write is guarded by
// the version read (and on PostgreSQL the row is locked as it is read), so
// of two updates made against the same version one fails, whichever
// instance makes them.
func (s *Store) UpdateWorkflow(ctx context.Context, id string, ifVersion int, wf *core.Workflow) (*core.WorkflowInfo, error) {
	if wf == nil {
		return nil, fmt.Errorf("update workflow %s: no definition", id)
	}
	st, err := storedDefinition(wf, id)
	if err != nil {
		return nil, fmt.Errorf("update workflow %s: %w", id, err)
	}
	now := micros(s.now())
	var row Workflow
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		row = Workflow{} // the write may run twice (a batch retried with savepoints)
		if err := s.lockForUpdate(ctx, tx.NewSelect().Model(&row).Where("id = ? AND deleted_at = 0", id)); err != nil {
			return err
		}
		if err := checkVersion(row.Version, ifVersion); err != nil {
			return err
		}
		return updateWorkflow(ctx, tx, &row, wf, st, now)
	})
	if err != nil {
		return nil, fmt.Errorf("update workflow %s: %w", id, err)
	}
	s.catalogChanged(ctx)
	return row.info()
}

// updateWorkflow writes a new version of a workflow whose row was read (and
// locked) in tx, unless it changes nothing: the definition (by its hash) and
// the status (a definition without one keeps the row's). row becomes the
// new row.
func updateWorkflow(ctx context.Context, tx bun.Tx, row *Workflow, wf *core.Workflow, st encodedDefinition, now int64) error {
	var hash string
	err := tx.NewSelect().Model((*WorkflowVersion)(nil)).Column("hash").
		Where("workflow_id = ? AND version = ?", row.ID, row.Version).Scan(ctx, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// The version is the workflow's revision, its ETag: any change makes
	// a new one (a status change too, so that If-Match catches a lost
	// update of the status), and an update that changes nothing makes
	// none. Every version is an immutable row executions can refer to.
	read, status := row.Version, row.Status
	if wf.Status != "" {
		status = WorkflowStatus(wf.Status)
	}
	if hash == st.hash && status == row.Status {
		return nil
	}
	row.Status, row.Version, row.Definition = status, read+1, st.def
	row.Name, row.Description, row.Category, row.Tags, row.UpdatedAt = wf.Name, wf.Description, wf.Category, st.tags, now
	res, err := tx.NewUpdate().Model(row).Column("status", "name", "description", "category", "tags", "updated_at", "version", "definition").
		Where("id = ? AND version = ?", row.ID, read).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w (version %d was just replaced)", core.ErrConflict, read)
	}
	_, err = tx.NewInsert().Model(&WorkflowVersion{WorkflowID: row.ID, Version: row.Version, Definition: st.def,
		Hash: st.hash, CreatedAt: now}).Exec(ctx)
	return err
}

// ApplyWorkflow creates a workflow, or updates the one workflow of its
// name, in one transaction: applies of one name never make two workflows,
// whichever instances make them at once (on PostgreSQL a transaction lock
// on the name serialises them; SQLite has one writer). Several workflows of
// the name already (made by create) are a *core.AmbiguousNameError.
func (s *Store) ApplyWorkflow(ctx context.Context, wf *core.Workflow, opts core.ApplyOptions) (*core.ApplyResult, error) {
	if wf == nil || wf.Name == "" {
		return nil, errors.New("apply workflow: a definition with a name")
	}
	fresh, freshDef, err := s.newWorkflowRow(wf)
	if err != nil {
		return nil, fmt.Errorf("apply workflow %q: %w", wf.Name, err)
	}
	now := micros(s.now())
	var res core.ApplyResult
	var row Workflow
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, row = core.ApplyResult{}, Workflow{} // the write may run twice
		if s.db.pg {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "weft.workflow.name:"+wf.Name); err != nil {
				return err
			}
		}
		var rows []Workflow
		if err := tx.NewSelect().Model(&rows).Where("name = ? AND deleted_at = 0", wf.Name).OrderExpr("created_at, id").Limit(20).Scan(ctx); err != nil {
			return err
		}
		switch len(rows) {
		case 0:
			row, res.Action = *fresh, core.ApplyCreated
			return insertWorkflow(ctx, tx, &row, freshDef)
		case 1:
		default:
			ae := &core.AmbiguousNameError{Name: wf.Name}
			for _, r := range rows {
				ae.IDs = append(ae.IDs, r.ID)
			}
			return ae
		}
		row = rows[0]
		if err := s.lockForUpdate(ctx, tx.NewSelect().Model(&row).Where("id = ? AND deleted_at = 0", row.ID)); err != nil {
			return err
		}
		st, err := storedDefinition(wf, row.ID)
		if err != nil {
			return err
		}
		cp := *wf
		if opts.KeepStatus {
			cp.Status = ""
		}
		res.PreviousVersion = row.Version
		if err := updateWorkflow(ctx, tx, &row, &cp, st, now); err != nil {
			return err
		}
		res.Action = core.ApplyUnchanged
		if row.Version != res.PreviousVersion {
			res.Action = core.ApplyUpdated
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply workflow %q: %w", wf.Name, err)
	}
	if res.Workflow, err = row.info(); err != nil {
		return nil, err
	}
	s.catalogChanged(ctx)
	return &res, nil
}

// DeleteWorkflow deletes a workflow: it is no longer listed nor found, and
// its versions and executions stay (the executions' sake).
func (s *Store) DeleteWorkflow(ctx context.Context, id string) error {
	now := micros(s.now())
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Workflow)(nil)).Set("deleted_at = ?", now).Set("updated_at = ?", now).
			Where("id = ? AND deleted_at = 0", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete workflow %s: %w", id, err)
	}
	s.catalogChanged(ctx)
	return nil
}

// ListWorkflows lists the workflows that are not deleted, newest first.
func (s *Store) ListWorkflows(ctx context.Context, f core.WorkflowFilter) (core.Page[*core.WorkflowInfo], error) {
	page := core.Page[*core.WorkflowInfo]{Items: []*core.WorkflowInfo{}}
	limit := pageSize(f.Limit)
	var rows []Workflow
	// deleted_at = 0 word for word: the condition of the listing indexes.
	q := s.db.bun.NewSelect().Model(&rows).Where("deleted_at = 0")
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Category != "" {
		q = q.Where("category = ?", f.Category)
	}
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.Cursor != "" {
		created, id, err := parseWorkflowCursor(f.Cursor)
		if err != nil {
			return page, fmt.Errorf("list workflows: %w", err)
		}
		q = q.Where("(created_at, id) < (?, ?)", created, id)
	}
	if err := q.OrderExpr("created_at DESC, id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return page, fmt.Errorf("list workflows: %w", err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.Next = workflowCursor(last.CreatedAt, last.ID)
	}
	for i := range rows {
		info, err := rows[i].info()
		if err != nil {
			return page, fmt.Errorf("list workflows: %w", err)
		}
		page.Items = append(page.Items, info)
	}
	return page, nil
}

// workflowCursor continues a listing of workflows after the one created at
// createdAt (micros) with that id.
func workflowCursor(createdAt int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt, 10) + "|" + id))
}

func parseWorkflowCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		at, id, ok := strings.Cut(string(b), "|")
		created, perr := strconv.ParseInt(at, 10, 64)
		if ok && perr == nil && id != "" {
			return created, id, nil
		}
	}
	return 0, "", fmt.Errorf("cursor %.40q: %w", c, core.ErrBadCursor)
}

// ListExecutions lists executions without their steps, newest first.
// Executions just created by their runner may be held in memory for a few
// tens of milliseconds before they are written (see held): a listing shows
// them once they are.
func (s *Store) ListExecutions(ctx context.Context, f core.ExecutionFilter) (core.Page[*core.Execution], error) {
	page := core.Page[*core.Execution]{Items: []*core.Execution{}}
	limit := pageSize(f.Limit)
	var rows []WorkflowExecution
	// Ids are UUIDv7, ordered by creation: newest first is id DESC, along
	// the primary key or the (workflow_id, id) and (status, id) indexes.
	// Several statuses (the unfinished ones: few rows) read one range of the
	// (status, id) index each, and sort what they found.
	q := s.db.bun.NewSelect().Model(&rows)
	if f.WorkflowID != "" {
		q = q.Where("workflow_id = ?", f.WorkflowID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if len(f.Statuses) > 0 {
		sts := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			sts[i] = string(st)
		}
		q = q.Where("status IN (?)", bun.In(sts))
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", micros(f.To))
	}
	if f.Cursor != "" {
		id, err := parseExecutionCursor(f.Cursor)
		if err != nil {
			return page, fmt.Errorf("list executions: %w", err)
		}
		q = q.Where("id < ?", id)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return page, fmt.Errorf("list executions: %w", err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(rows[limit-1].ID))
	}
	for i := range rows {
		x, err := rows[i].header()
		if err != nil {
			return page, fmt.Errorf("list executions: %w", err)
		}
		x.Steps = nil
		page.Items = append(page.Items, x)
	}
	return page, nil
}

func parseExecutionCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("cursor %.40q: %w", c, core.ErrBadCursor)
	}
	return string(b), nil
}

// lockForUpdate reads the one row q selects, locked until the write's
// transaction ends (FOR UPDATE on PostgreSQL; SQLite's single writer needs
// none); no row is core.ErrNotFound.
func (s *Store) lockForUpdate(ctx context.Context, q *bun.SelectQuery) error {
	if s.db.pg {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return core.ErrNotFound
		}
		return err
	}
	return nil
}

// checkVersion is an If-Match: ifVersion > 0 must be the row's version.
func checkVersion(version, ifVersion int) error {
	if ifVersion > 0 && version != ifVersion {
		return fmt.Errorf("%w (it is at version %d, the update was made against version %d)", core.ErrConflict, version, ifVersion)
	}
	return nil
}
