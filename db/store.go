package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Store implements core.Store on the database.
type Store struct {
	db  *DB
	now func() time.Time
}

var (
	_ core.Store    = (*Store)(nil)
	_ core.Accepter = (*Store)(nil)
)

// Store returns the core.Store of the database.
func (d *DB) Store() *Store {
	return &Store{db: d, now: time.Now}
}

// WithClock returns a store that stamps rows with now (tests).
func (s *Store) WithClock(now func() time.Time) *Store {
	return &Store{db: s.db, now: now}
}

// write runs fn in the group commit.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.db.batch.do(ctx, fn)
}

// executionRow turns a new execution into its row.
func executionRow(x *core.Execution, lease *core.Lease, now time.Time) (*WorkflowExecution, error) {
	in, err := recordJSON(x.Input)
	if err != nil {
		return nil, fmt.Errorf("execution input: %w", err)
	}
	row, err := headerRow(x, now)
	if err != nil {
		return nil, err
	}
	row.Input = in
	if x.IdempotencyKey != "" {
		row.IdempotencyKey = &x.IdempotencyKey
	}
	if lease != nil {
		row.LeaseOwner, row.LeaseToken, row.LeaseUntil = lease.Owner, lease.Token, micros(lease.Until)
	}
	return row, nil
}

// headerRow turns an execution header into the part of its row that
// checkpoints change: all but the input, which is the execution's for good.
func headerRow(x *core.Execution, now time.Time) (*WorkflowExecution, error) {
	out, err := recordJSON(x.Output)
	if err != nil {
		return nil, fmt.Errorf("execution output: %w", err)
	}
	var errJSON JSON
	if x.Error != nil {
		if errJSON, err = toJSON(x.Error); err != nil {
			return nil, err
		}
	}
	return &WorkflowExecution{
		ID: x.ID, WorkflowID: x.WorkflowID, WorkflowVersion: x.WorkflowVersion, WorkflowName: x.WorkflowName,
		Status: ExecutionStatus(x.Status), Output: out, Error: errJSON, FailedStep: x.FailedStep,
		CreatedAt: micros(x.CreatedAt), StartedAt: micros(x.StartedAt), FinishedAt: micros(x.FinishedAt),
		DurationMs: x.DurationMs, WakeAt: micros(x.WakeAt), UpdatedAt: micros(now),
	}, nil
}

// header turns a row into an execution header.
func (r *WorkflowExecution) header() (*core.Execution, error) {
	x := &core.Execution{
		ID: r.ID, WorkflowID: r.WorkflowID, WorkflowVersion: r.WorkflowVersion, WorkflowName: r.WorkflowName,
		Status: core.Status(r.Status), FailedStep: r.FailedStep,
		CreatedAt: fromMicros(r.CreatedAt), StartedAt: fromMicros(r.StartedAt), FinishedAt: fromMicros(r.FinishedAt),
		DurationMs: r.DurationMs, WakeAt: fromMicros(r.WakeAt), Steps: map[string]*core.StepState{},
	}
	if r.IdempotencyKey != nil {
		x.IdempotencyKey = *r.IdempotencyKey
	}
	if err := fromJSON(r.Input, &x.Input); err != nil {
		return nil, fmt.Errorf("execution %s input: %w", r.ID, err)
	}
	if err := fromJSON(r.Output, &x.Output); err != nil {
		return nil, fmt.Errorf("execution %s output: %w", r.ID, err)
	}
	if len(r.Error) > 0 {
		x.Error = &sdk.Error{}
		if err := fromJSON(r.Error, x.Error); err != nil {
			return nil, fmt.Errorf("execution %s error: %w", r.ID, err)
		}
	}
	return x, nil
}

// CreateExecution implements core.ExecutionStore.
func (s *Store) CreateExecution(ctx context.Context, x *core.Execution, lease *core.Lease) error {
	row, err := executionRow(x, lease, s.now())
	if err != nil {
		return err
	}
	if row.IdempotencyKey != nil {
		return s.createKeyed(ctx, row)
	}
	if lease != nil {
		// Run at once by its creator: held in memory for a moment (see held).
		s.db.hold(row)
		return nil
	}
	return s.db.batch.doKeyed(ctx, nil, true, func(ctx context.Context, tx bun.Tx) error { return s.db.insertExecution(ctx, tx, row) })
}

// createKeyed inserts an execution with an idempotency key, unless one of
// its workflow has the key already (the unique index says so).
func (s *Store) createKeyed(ctx context.Context, row *WorkflowExecution) error {
	var existing string
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		existing = ""
		row.DueAt = max(row.LeaseUntil, row.dueAt())
		res, err := tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		return tx.NewSelect().Model((*WorkflowExecution)(nil)).Column("id").
			Where("workflow_id = ? AND idempotency_key = ?", row.WorkflowID, *row.IdempotencyKey).Scan(ctx, &existing)
	})
	if err != nil {
		return fmt.Errorf("create execution %s: %w", row.ID, err)
	}
	if existing != "" {
		return &core.DuplicateError{ID: existing}
	}
	return nil
}

// insertExecution inserts an execution's row.
func (d *DB) insertExecution(ctx context.Context, tx bun.Tx, row *WorkflowExecution) error {
	_, err := d.exec(ctx, tx, sqlInsertExecution, row.ID, row.WorkflowID, row.WorkflowVersion, row.WorkflowName,
		string(row.Status), row.Input, row.Output, row.Error, row.FailedStep, row.CreatedAt, row.StartedAt,
		row.FinishedAt, row.DurationMs, row.WakeAt, row.LeaseOwner, row.LeaseToken, row.LeaseUntil, row.UpdatedAt,
		max(row.LeaseUntil, row.dueAt()))
	return err
}

// dueAt is when the execution may be claimed, leases aside: a parked one
// at its wake time, any other unfinished one since its creation. The row's
// due_at is the later of this and its lease's end, so that claims read one
// index range in the order executions became claimable (the statements that
// change the lease, status or wake time keep it so).
func (r *WorkflowExecution) dueAt() int64 {
	if r.Status == ExecutionStatus(core.StatusWaiting) {
		return r.WakeAt
	}
	return r.CreatedAt
}

// stepArgs lists a step row's values in the order of stepColumns.
func stepArgs(r *StepExecution) []any {
	return appendStepArgs(make([]any, 0, stepParams+3), r) // room for a guard's three
}

// appendStepArgs appends the values of a step row, in stepColumns' order.
func appendStepArgs(dst []any, r *StepExecution) []any {
	return append(dst, r.ExecutionID, r.StepKey, r.Attempt, r.StepID, r.StepType, r.ParentKey, r.ItemIndex, r.FallbackFor,
		string(r.Status), string(r.StepStatus), r.Input, r.Output, r.Error, r.StepError, r.StepStartedAt,
		r.StepFinishedAt, r.StepDurationMs, r.StartedAt, r.FinishedAt, r.DurationMs, r.RetryDelayMs, r.WakeAt, r.Result, r.Logs)
}

// unfinishedSQL is the condition of the claim index (partial: finished
// executions leave it); queries repeat it word for word so that SQLite
// knows it may use the index.
const unfinishedSQL = `(status = 'PENDING' OR status = 'RUNNING' OR status = 'WAITING')`

// claimableSQL selects the executions an engine may claim at ?now (three
// times). due_at <= now says it all (see dueAt); unfinishedSQL is there for
// the partial index to apply, and the lease and wake conditions repeat what
// due_at says: cheap within the index range, and a row written by a weft
// that does not know due_at (an older version during an upgrade leaves it 0)
// is still never claimed while its lease holds.
const claimableSQL = unfinishedSQL + ` AND due_at <= ? AND lease_until <= ? AND (status <> 'WAITING' OR wake_at <= ?)`

// notPausedSQL keeps the executions of a PAUSED workflow that have not
// started queued (PENDING) until the workflow is ACTIVE again; those under
// way go on.
const notPausedSQL = `(status <> 'PENDING' OR workflow_id NOT IN (SELECT id FROM workflows WHERE status = 'PAUSED'))`

// Claim implements core.ExecutionStore. On PostgreSQL the rows are locked
// with FOR UPDATE SKIP LOCKED, so engines sharing the database never claim
// the same execution nor wait for each other.
func (s *Store) Claim(ctx context.Context, owner string, n int, now time.Time, leaseFor time.Duration) ([]core.Claimed, error) {
	var rows []WorkflowExecution
	// Without statistics (weft never runs ANALYZE) SQLite prefers the status
	// index and sorts every claimable row; INDEXED BY holds it to the claim
	// index, and fails the query rather than fall back if it cannot be used.
	from, lock := "workflow_executions INDEXED BY workflow_executions_claim_idx", ""
	if s.db.pg {
		from, lock = "workflow_executions", " FOR UPDATE SKIP LOCKED"
	}
	t := micros(now)
	s.db.flushExpiredHeld(t)
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		rows = rows[:0]
		until := micros(now.Add(leaseFor))
		return tx.NewRaw(`UPDATE workflow_executions SET lease_owner = ?, lease_token = lease_token + 1, lease_until = ?, due_at = ?, updated_at = ?
			WHERE id IN (SELECT id FROM `+from+` WHERE `+claimableSQL+` AND `+notPausedSQL+` ORDER BY due_at LIMIT ?`+lock+`)
			RETURNING *`, owner, until, until, micros(s.now()), t, t, t, n).Scan(ctx, &rows)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim executions: %w", err)
	}
	out := make([]core.Claimed, 0, len(rows))
	for i := range rows {
		s.db.failed.Delete(rows[i].ID) // a new lease: earlier failures are not its own
		h, err := rows[i].header()
		if err != nil {
			return nil, err
		}
		out = append(out, core.Claimed{Execution: h, Lease: core.Lease{Owner: owner, Token: rows[i].LeaseToken, Until: fromMicros(rows[i].LeaseUntil)}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Execution.CreatedAt.Before(out[j].Execution.CreatedAt) })
	return out, nil
}

// Renew implements core.ExecutionStore.
func (s *Store) Renew(ctx context.Context, owner string, leases map[string]int64, until time.Time) ([]string, error) {
	var lost []string
	kept := s.db.renewHeld(owner, leases, micros(until))
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		lost = lost[:0]
		for id, token := range leases {
			if kept[id] {
				continue
			}
			res, err := tx.NewUpdate().Table("workflow_executions").Set("lease_until = ?", micros(until)).Set("due_at = CASE WHEN ? > "+baseDueSQL+" THEN ? ELSE "+baseDueSQL+" END", micros(until), micros(until)).
				Where("id = ? AND lease_owner = ? AND lease_token = ?", id, owner, token).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				lost = append(lost, id)
			}
		}
		return nil
	})
	sort.Strings(lost)
	return lost, err
}

// appendStepRows appends a step state's rows to dst: one per attempt (or
// one with attempt 0 for a step that never ran).
func appendStepRows(dst []StepExecution, execID string, st *core.StepState) ([]StepExecution, error) {
	stepErr, err := toJSON(st.Error)
	if err != nil {
		return nil, err
	}
	out, err := recordJSON(st.Output)
	if err != nil {
		return nil, fmt.Errorf("step %s output: %w", st.ID, err)
	}
	in, err := recordJSON(st.Input)
	if err != nil {
		return nil, fmt.Errorf("step %s input: %w", st.ID, err)
	}
	base := StepExecution{
		ExecutionID: execID, StepKey: st.ID, StepID: st.ID, StepType: st.Type, ParentKey: st.Parent,
		ItemIndex: st.Index, FallbackFor: st.FallbackFor, StepStatus: ExecutionStatus(st.Status), StepError: stepErr,
		StepStartedAt: micros(st.StartedAt), StepFinishedAt: micros(st.FinishedAt), StepDurationMs: st.DurationMs,
		WakeAt: micros(st.WakeAt),
	}
	if len(st.History) == 0 {
		r := base
		r.Status, r.Input, r.Output = ExecutionStatus(st.Status), in, out
		return append(dst, r), nil
	}
	for i, h := range st.History {
		r := base
		r.Attempt, r.Status = h.Attempt, ExecutionStatus(h.Status)
		r.StartedAt, r.FinishedAt, r.DurationMs, r.RetryDelayMs = micros(h.StartedAt), micros(h.FinishedAt), h.DurationMs, h.RetryDelayMs
		if h.Error != nil {
			if r.Error, err = toJSON(h.Error); err != nil {
				return nil, err
			}
		}
		if len(h.Logs) > 0 {
			if r.Logs, err = toJSON(h.Logs); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			r.Input = in
		}
		if i == len(st.History)-1 {
			r.Output = out
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// latestStepColumns sets a step state's own fields (not its history) from
// the row of its latest attempt.
func latestStepColumns(st *core.StepState, r *StepExecution) error {
	st.Type, st.Status, st.Parent, st.Index, st.FallbackFor = r.StepType, core.Status(r.StepStatus), r.ParentKey, r.ItemIndex, r.FallbackFor
	st.StartedAt, st.FinishedAt, st.DurationMs, st.WakeAt = fromMicros(r.StepStartedAt), fromMicros(r.StepFinishedAt), r.StepDurationMs, fromMicros(r.WakeAt)
	st.Error = nil
	if len(r.StepError) > 0 {
		st.Error = &sdk.Error{}
		if err := fromJSON(r.StepError, st.Error); err != nil {
			return err
		}
	}
	return nil
}

// states assembles step states from their rows (sorted by key, attempt).
func states(rows []StepExecution) (map[string]*core.StepState, error) {
	out := map[string]*core.StepState{}
	for _, r := range rows {
		st, ok := out[r.StepKey]
		if !ok {
			st = &core.StepState{
				ID: r.StepKey, Type: r.StepType, Status: core.Status(r.StepStatus), Parent: r.ParentKey, Index: r.ItemIndex,
				FallbackFor: r.FallbackFor, StartedAt: fromMicros(r.StepStartedAt), FinishedAt: fromMicros(r.StepFinishedAt),
				DurationMs: r.StepDurationMs, WakeAt: fromMicros(r.WakeAt), History: []core.Attempt{},
			}
			if len(r.StepError) > 0 {
				st.Error = &sdk.Error{}
				if err := fromJSON(r.StepError, st.Error); err != nil {
					return nil, err
				}
			}
			if err := fromJSON(r.Input, &st.Input); err != nil {
				return nil, err
			}
			out[r.StepKey] = st
		}
		if len(r.Output) > 0 {
			if err := fromJSON(r.Output, &st.Output); err != nil {
				return nil, err
			}
		}
		if r.Attempt == 0 {
			continue
		}
		if r.Attempt > st.Attempts {
			// The step's own columns of its latest attempt win: an earlier
			// row (a skip's attempt 0, attempts before a retry) keeps what
			// the step was then.
			if err := latestStepColumns(st, &r); err != nil {
				return nil, err
			}
		}
		a := core.Attempt{Attempt: r.Attempt, Status: core.Status(r.Status), StartedAt: fromMicros(r.StartedAt),
			FinishedAt: fromMicros(r.FinishedAt), DurationMs: r.DurationMs, RetryDelayMs: r.RetryDelayMs}
		if len(r.Error) > 0 {
			a.Error = &sdk.Error{}
			if err := fromJSON(r.Error, a.Error); err != nil {
				return nil, err
			}
		}
		if len(r.Logs) > 0 {
			if err := fromJSON(r.Logs, &a.Logs); err != nil {
				return nil, err
			}
		}
		st.History = append(st.History, a)
		st.Attempts = r.Attempt
	}
	return out, nil
}

func (s *Store) stepRowsOf(ctx context.Context, id string) ([]StepExecution, error) {
	var rows []StepExecution
	err := s.db.bun.NewSelect().Model(&rows).Where("execution_id = ?", id).Order("step_key", "attempt").Scan(ctx)
	return rows, err
}

// LoadRun implements core.ExecutionStore.
func (s *Store) LoadRun(ctx context.Context, id string) (*core.RunState, error) {
	rows, err := s.stepRowsOf(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load steps of %s: %w", id, err)
	}
	st, err := states(rows)
	if err != nil {
		return nil, fmt.Errorf("load steps of %s: %w", id, err)
	}
	rs := &core.RunState{Steps: st, Results: map[string]core.StepResult{}}
	for _, r := range rows {
		if len(r.Result) == 0 {
			continue
		}
		var res core.StepResult
		if err := json.Unmarshal(r.Result, &res); err != nil {
			return nil, fmt.Errorf("result of %s in %s: %w", r.StepKey, id, err)
		}
		if res.OutputIsStep {
			res.Output, res.OutputIsStep = st[r.StepKey].Output, false
		}
		rs.Results[res.StepID] = res
	}
	return rs, nil
}

// Checkpoint implements core.ExecutionStore: the step states, the results
// and the header are written in one transaction, if the lease is still held.
func (s *Store) Checkpoint(ctx context.Context, id string, lease core.Lease, cp *core.Checkpoint) error {
	// Encode outside the commit: the committer is shared by every execution.
	resultOf := make(map[string]JSON, len(cp.Results))
	for _, r := range cp.Results {
		// The output is usually the step's own, already on the row: not
		// stored twice (a fallback's output differs and is kept).
		for _, st := range cp.Steps {
			if st.ID == r.StepID && st.Status == core.StatusCompleted && r.Status == core.StatusCompleted {
				r.Output = nil
				r.OutputIsStep = true
			}
		}
		b, err := encode(r)
		if err != nil {
			return fmt.Errorf("result of %s: %w", r.StepID, err)
		}
		resultOf[r.StepID] = storable(b)
	}
	n := 0
	for _, st := range cp.Steps {
		n += max(len(st.History), 1)
	}
	// One array for every row: a row is ~400 bytes, and rows built apart
	// and then gathered were 7 % of what the request path allocated.
	steps := make([]StepExecution, 0, n)
	for _, st := range cp.Steps {
		start := len(steps)
		var err error
		if steps, err = appendStepRows(steps, id, st); err != nil {
			return err
		}
		rows := steps[start:]
		if res, ok := resultOf[st.ID]; ok {
			for i := range rows {
				rows[i].Result = res
			}
			delete(resultOf, st.ID)
		}
	}
	if len(resultOf) > 0 {
		return fmt.Errorf("checkpoint of %s: a result without its step's state", id)
	}
	var hdr *WorkflowExecution
	if cp.Execution != nil {
		var err error
		if hdr, err = headerRow(cp.Execution, s.now()); err != nil {
			return err
		}
	}
	now := micros(s.now())
	keys := make([]string, len(cp.Steps))
	for i, st := range cp.Steps {
		keys[i] = id + "/" + st.ID
	}
	write := s.db.checkpointWrite(id, lease, steps, hdr, cp.Release, now)
	async := cp.Async && cp.Execution == nil && !cp.Release
	if !async {
		// Known before: not written at all (an at-most-once step's start
		// would be on record though the step is never called).
		if err := s.db.failure(id, lease.Token); err != nil {
			return err
		}
	}
	if o, ok, err := s.db.mergeHeld(id, lease, steps, hdr, cp.Release, !async, now); ok {
		if err != nil || o == nil {
			return err
		}
		return s.db.awaited(id, lease.Token, <-o.done)
	}
	// This write supersedes the progress records of its steps still held
	// back; an awaited one first queues the execution's others, so that
	// once it returns every earlier write is durable (Checkpoint.Async).
	s.db.progress.settle(id, keys, !async)
	if async {
		enqueue := func() {
			s.db.batch.async(ctx, keys, true, write, func(err error) { s.db.unwritten(id, lease.Token, err) })
		}
		if isProgress(cp) {
			// Written only if the step is still at it a moment later: most
			// attempts end sooner, and their final write says it all.
			s.db.progress.later(id, keys, enqueue)
			return nil
		}
		enqueue()
		return nil
	}
	return s.db.awaited(id, lease.Token, s.db.batch.doKeyed(ctx, keys, true, write))
}

// checkpointWrite is the write of a checkpoint of execution id: the header
// (when hdr is not nil) and the step rows, if the lease is still held (the
// lease check rides on the first statement). now is the row's updated_at.
func (d *DB) checkpointWrite(id string, lease core.Lease, steps []StepExecution, hdr *WorkflowExecution, release bool, now int64) func(ctx context.Context, tx bun.Tx) error {
	return func(ctx context.Context, tx bun.Tx) error {
		rest := steps // the write may run twice (a batch retried with savepoints)
		var err error
		switch {
		case hdr != nil:
			args := []any{now, string(hdr.Status), hdr.Output, hdr.Error, hdr.FailedStep,
				hdr.StartedAt, hdr.FinishedAt, hdr.DurationMs, hdr.WakeAt, hdr.dueAt()}
			q := sqlHeaderRelease
			if !release {
				q = sqlHeader
				args = append(args, hdr.dueAt())
			}
			err = d.execGuarded(ctx, tx, q, append(args, id, lease.Owner, lease.Token)...)
		case release:
			err = d.execGuarded(ctx, tx, sqlGuardRelease, now, id, lease.Owner, lease.Token)
		case len(rest) > 0:
			// The lease check rides on the first row's write.
			args := append(stepArgs(&rest[0]), id, lease.Owner, lease.Token)
			err = d.execGuarded(ctx, tx, sqlUpsertStepGuarded, args...)
			rest = rest[1:]
		default:
			err = d.execGuarded(ctx, tx, sqlGuard, now, id, lease.Owner, lease.Token)
		}
		if err != nil {
			return err
		}
		return d.upsertSteps(ctx, tx, rest)
	}
}

// awaited completes an awaited write: it fails when an async write before it
// failed (in the same batch, or one committed just before it).
func (d *DB) awaited(id string, token int64, err error) error {
	if f := d.failure(id, token); f != nil {
		return f
	}
	return err
}

// failedWrite is an async write of an execution that failed under the
// lease with the given token.
type failedWrite struct {
	token int64
	err   error
}

// unwritten notes that an async write of execution id, under the lease with
// the given token, failed. A lost lease needs no note: the execution's next
// guarded write finds it lost too.
func (d *DB) unwritten(id string, token int64, err error) {
	if errors.Is(err, core.ErrLeaseLost) {
		return
	}
	slog.Error("execution record not written", "execution", id, "err", err)
	fw := &failedWrite{token: token, err: err}
	for {
		v, loaded := d.failed.LoadOrStore(id, fw)
		if !loaded || v.(*failedWrite).token == token {
			return // the first failure under a lease is the one reported
		}
		if d.failed.CompareAndSwap(id, v, fw) {
			return // replaces a note of an earlier lease
		}
	}
}

// failure returns, for the rest of the lease, the error of an async write
// of execution id that failed under it: every awaited write then fails — a
// caller told that one is durable may rely on every earlier write being
// durable (core.Checkpoint.Async). The committer notes a failure before it
// acknowledges any later write. A new lease (Claim) clears the note.
func (d *DB) failure(id string, token int64) error {
	if v, ok := d.failed.Load(id); ok && v.(*failedWrite).token == token {
		return fmt.Errorf("an earlier record of execution %s was not written: %w", id, v.(*failedWrite).err)
	}
	return nil
}

// Accept implements core.Accepter: a held execution is written now; one
// whose records left the hold without being awaited (queued when its hold
// ran out) is durable once a write queued after them commits, since the
// committer applies writes in order.
func (s *Store) Accept(ctx context.Context, id string) error {
	wrote, err := s.db.flushHeldWrote(id)
	if wrote || err != nil {
		return err
	}
	return s.db.batch.doKeyed(ctx, nil, true, func(context.Context, bun.Tx) error { return nil })
}

// GetExecution implements core.ExecutionStore.
func (s *Store) GetExecution(ctx context.Context, id string) (*core.Execution, error) {
	if err := s.db.flushHeld(id); err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	row := new(WorkflowExecution)
	if err := s.db.bun.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.ErrNotFound
		}
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	x, err := row.header()
	if err != nil {
		return nil, err
	}
	rows, err := s.stepRowsOf(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get steps of %s: %w", id, err)
	}
	if x.Steps, err = states(rows); err != nil {
		return nil, err
	}
	return x, nil
}

// NextWake implements core.ExecutionStore.
func (s *Store) NextWake(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	from := "workflow_executions INDEXED BY workflow_executions_wake_idx" // see Claim
	if s.db.pg {
		from = "workflow_executions"
	}
	err := s.db.bun.NewSelect().TableExpr(from).ColumnExpr("MIN(wake_at)").
		Where("status = 'WAITING'").Scan(ctx, &next) // word for word the wake index's condition
	if err != nil {
		return time.Time{}, false, err
	}
	if !next.Valid || next.Int64 == 0 {
		return time.Time{}, false, nil
	}
	return fromMicros(next.Int64), true, nil
}

// inlineDefinition marks the workflow row of a definition run without being
// saved in the catalog (see SaveDefinition).
const inlineDefinition = -1

// SaveDefinition implements core.DefinitionStore: the same definition saved
// again is the same version; a changed one becomes the next version.
func (s *Store) SaveDefinition(ctx context.Context, wf *core.Workflow) (string, int, error) {
	hash, err := core.DefinitionHash(wf)
	if err != nil {
		return "", 0, err
	}
	def, err := json.Marshal(wf)
	if err != nil {
		return "", 0, err
	}
	tags, err := toJSON(wf.Tags)
	if err != nil {
		return "", 0, err
	}
	var id string
	var version int
	now := micros(s.now())
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		id, version = wf.ID, 0
		var existing []WorkflowVersion
		q := tx.NewSelect().Model(&existing).Where("hash = ?", hash)
		if id != "" {
			q = q.Where("workflow_id = ?", id)
		} else {
			// An inline definition (weft run, the execute endpoint) reuses the
			// workflow of the same name and content.
			q = q.Where("workflow_id IN (SELECT id FROM workflows WHERE name = ?)", wf.Name)
		}
		if err := q.Order("version DESC").Limit(1).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if len(existing) > 0 {
			id, version = existing[0].WorkflowID, existing[0].Version
			return nil
		}
		if id == "" {
			id = uuid.Must(uuid.NewV7()).String()
		}
		inline := wf.ID == ""
		var current Workflow
		err := tx.NewSelect().Model(&current).Where("id = ?", id).Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			status := WorkflowStatus(wf.Status)
			if status == "" {
				status = WorkflowActive
			}
			version = 1
			row := &Workflow{ID: id, Name: wf.Name, Description: wf.Description, Category: wf.Category,
				Status: status, Version: version, Definition: def, Tags: tags, CreatedAt: now, UpdatedAt: now}
			if inline {
				// A definition run without being saved (weft run --db, weft
				// submit, POST /api/orchestration/execute) is kept for its
				// executions' sake but stays out of the catalog: deleted_at
				// -1 (never listed, never found, unlike a deletion's time).
				row.DeletedAt = inlineDefinition
			}
			if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			version = current.Version + 1
			if _, err := tx.NewUpdate().Model(&current).Set("version = ?", version).Set("definition = ?", JSON(def)).
				Set("name = ?", wf.Name).Set("description = ?", wf.Description).Set("category = ?", wf.Category).
				Set("updated_at = ?", now).WherePK().Exec(ctx); err != nil {
				return err
			}
		}
		_, err = tx.NewInsert().Model(&WorkflowVersion{WorkflowID: id, Version: version, Definition: def, Hash: hash, CreatedAt: now}).Exec(ctx)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("save workflow definition: %w", err)
	}
	return id, version, nil
}

// GetDefinition implements core.DefinitionStore.
func (s *Store) GetDefinition(ctx context.Context, id string, version int) (*core.Workflow, error) {
	row := new(WorkflowVersion)
	err := s.db.bun.NewSelect().Model(row).Where("workflow_id = ? AND version = ?", id, version).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %s version %d: %w", id, version, err)
	}
	wf := new(core.Workflow)
	if err := json.Unmarshal(row.Definition, wf); err != nil {
		return nil, fmt.Errorf("workflow %s version %d: %w", id, version, err)
	}
	wf.ID, wf.Version = id, version
	return wf, nil
}
