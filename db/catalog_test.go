package db_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/server"
)

var (
	_ server.Catalog = (*db.Store)(nil)
	_ server.Keys    = (*db.Store)(nil)
)

// ticking is a clock that moves on by step at every reading.
func ticking(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

var epoch = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// definition is a small workflow; url tells versions apart.
func definition(name, url string) *core.Workflow {
	return &core.Workflow{
		Name: name, Description: "a test workflow", Category: "tests", Tags: []string{"a", "b"},
		Variables: map[string]any{"minScore": float64(50)},
		Steps:     []core.Step{{ID: "get", Type: "HTTP_REQUEST", Config: map[string]any{"method": "GET", "url": url}}},
	}
}

func TestWorkflowCreateGetDelete(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store().WithClock(ticking(epoch, time.Second))

		created, err := s.CreateWorkflow(ctx, definition("leads", "http://a"))
		require.NoError(t, err)
		_, err = uuid.Parse(created.ID)
		require.NoError(t, err, "a UUID")
		require.Equal(t, 1, created.Version)
		require.Equal(t, core.WorkflowActive, created.Status, "ACTIVE by default")
		require.Equal(t, epoch.Add(time.Second), created.CreatedAt)
		require.Equal(t, created.CreatedAt, created.UpdatedAt)

		got, err := s.GetWorkflow(ctx, created.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
		want := definition("leads", "http://a")
		want.ID, want.Version, want.Status = created.ID, 1, core.WorkflowActive
		require.Equal(t, want, got.Workflow)

		// The engine finds the version the catalog made.
		def, err := s.GetDefinition(ctx, created.ID, 1)
		require.NoError(t, err)
		require.Equal(t, want.Steps, def.Steps)

		// The same definition again is another workflow; a status is kept.
		draft := definition("leads", "http://a")
		draft.Status = core.WorkflowDraft
		other, err := s.CreateWorkflow(ctx, draft)
		require.NoError(t, err)
		require.NotEqual(t, created.ID, other.ID)
		require.Equal(t, core.WorkflowDraft, other.Status)
		require.Equal(t, 1, other.Version)

		// Deleted: neither found, listed, updated nor deleted again; its
		// versions stay for its executions.
		require.NoError(t, s.DeleteWorkflow(ctx, created.ID))
		_, err = s.GetWorkflow(ctx, created.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		page, err := s.ListWorkflows(ctx, core.WorkflowFilter{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, other.ID, page.Items[0].ID)
		_, err = s.UpdateWorkflow(ctx, created.ID, 0, definition("leads", "http://b"))
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, s.DeleteWorkflow(ctx, created.ID), core.ErrNotFound)
		_, err = s.GetDefinition(ctx, created.ID, 1)
		require.NoError(t, err)

		_, err = s.GetWorkflow(ctx, "no-such-workflow")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, s.DeleteWorkflow(ctx, "no-such-workflow"), core.ErrNotFound)
	})
}

func TestUpdateWorkflow(t *testing.T) {
	t.Parallel()
	paused := func(wf *core.Workflow) { wf.Status = core.WorkflowPaused }
	tests := []struct {
		name      string
		ifVersion int
		id        string // default: the workflow's
		update    func(wf *core.Workflow)
		// the workflow afterwards (when no error)
		wantVersion int
		wantStatus  core.WorkflowStatus
		wantURL     string
		wantErr     error
	}{
		{name: "same definition, new status: next version", ifVersion: 1, update: paused,
			wantVersion: 2, wantStatus: core.WorkflowPaused, wantURL: "http://v1"},
		{name: "changed definition: next version", ifVersion: 1, update: func(wf *core.Workflow) { wf.Steps[0].Config["url"] = "http://v2" },
			wantVersion: 2, wantStatus: core.WorkflowActive, wantURL: "http://v2"},
		{name: "renamed: next version", ifVersion: 1, update: func(wf *core.Workflow) { wf.Name = "renamed" },
			wantVersion: 2, wantStatus: core.WorkflowActive, wantURL: "http://v1"},
		{name: "changed definition and status", ifVersion: 1, update: func(wf *core.Workflow) { paused(wf); wf.Variables["minScore"] = float64(60) },
			wantVersion: 2, wantStatus: core.WorkflowPaused, wantURL: "http://v1"},
		{name: "no status keeps the status: nothing changes", ifVersion: 1, update: func(wf *core.Workflow) { wf.Status = "" },
			wantVersion: 1, wantStatus: core.WorkflowActive, wantURL: "http://v1"},
		{name: "the same document: nothing changes", ifVersion: 1, update: func(*core.Workflow) {},
			wantVersion: 1, wantStatus: core.WorkflowActive, wantURL: "http://v1"},
		{name: "without ifVersion: no check", ifVersion: 0, update: func(wf *core.Workflow) { wf.Steps[0].Config["url"] = "http://v2" },
			wantVersion: 2, wantStatus: core.WorkflowActive, wantURL: "http://v2"},
		{name: "stale ifVersion", ifVersion: 2, update: paused, wantErr: core.ErrConflict},
		{name: "unknown workflow", id: "no-such-workflow", update: paused, wantErr: core.ErrNotFound},
	}
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store().WithClock(ticking(epoch, time.Second))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				created, err := s.CreateWorkflow(ctx, definition("flow", "http://v1"))
				require.NoError(t, err)
				wf := definition("flow", "http://v1")
				wf.Status = core.WorkflowActive
				tt.update(wf)
				id := created.ID
				if tt.id != "" {
					id = tt.id
				}
				got, err := s.UpdateWorkflow(ctx, id, tt.ifVersion, wf)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					require.Contains(t, err.Error(), id)
					now, err := s.GetWorkflow(ctx, created.ID)
					require.NoError(t, err)
					require.Equal(t, created, now, "unchanged")
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.wantVersion, got.Version)
				require.Equal(t, tt.wantStatus, got.Status)
				require.Equal(t, tt.wantURL, got.Steps[0].Config["url"])
				require.Equal(t, created.CreatedAt, got.CreatedAt)
				if tt.wantVersion == created.Version {
					require.Equal(t, created, got, "an update that changes nothing writes nothing")
				} else {
					require.True(t, got.UpdatedAt.After(created.UpdatedAt))
				}

				stored, err := s.GetWorkflow(ctx, created.ID)
				require.NoError(t, err)
				require.Equal(t, got, stored)
				// Every version is kept; there is none beyond the current one.
				first, err := s.GetDefinition(ctx, created.ID, 1)
				require.NoError(t, err)
				require.Equal(t, "http://v1", first.Steps[0].Config["url"])
				last, err := s.GetDefinition(ctx, created.ID, got.Version)
				require.NoError(t, err)
				require.Equal(t, tt.wantURL, last.Steps[0].Config["url"])
				_, err = s.GetDefinition(ctx, created.ID, got.Version+1)
				require.ErrorIs(t, err, core.ErrNotFound)
			})
		}
	})
}

// Of updates of the definition made against the same version, at once,
// exactly one succeeds and the others conflict — through one store (one
// committer, possibly one batch) or through several database handles (on
// PostgreSQL: instances). The same for updates of the status alone: they
// make a version too, so that If-Match catches a lost one.
func TestConcurrentUpdatesConflict(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.dsn(t)
		stores := []*db.Store{openDB(t, dsn).Store(), openDB(t, dsn).Store()}
		const writers = 4
		for round := range 10 {
			created, err := stores[0].CreateWorkflow(ctx, definition("raced", "http://v1"))
			require.NoError(t, err)
			errs := make([]error, writers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					wf := definition("raced", fmt.Sprintf("http://writer-%d", i))
					if round%2 == 1 {
						wf = definition("raced", "http://v1")
						wf.Status = core.WorkflowPaused // a status change
					}
					_, errs[i] = stores[i%len(stores)].UpdateWorkflow(ctx, created.ID, 1, wf)
				}()
			}
			close(start)
			wg.Wait()
			won, winner := 0, -1
			for i, err := range errs {
				if err == nil {
					won, winner = won+1, i
					continue
				}
				require.ErrorIs(t, err, core.ErrConflict)
			}
			require.Equal(t, 1, won, "round %d: %v", round, errs)
			got, err := stores[0].GetWorkflow(ctx, created.ID)
			require.NoError(t, err)
			require.Equal(t, 2, got.Version)
			if round%2 == 1 {
				require.Equal(t, core.WorkflowPaused, got.Status)
				continue
			}
			require.Equal(t, fmt.Sprintf("http://writer-%d", winner), got.Steps[0].Config["url"], "the winner's definition")
			def, err := stores[1].GetDefinition(ctx, created.ID, 2)
			require.NoError(t, err)
			require.Equal(t, got.Steps, def.Steps)
		}
	})
}

// walk lists every page and returns the items, checking page sizes (limit
// 0: the default size).
func walk[T any](t *testing.T, limit int, list func(cursor string) (core.Page[T], error)) []T {
	t.Helper()
	if limit == 0 {
		limit = 50
	}
	var all []T
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100, "the listing ends")
		page, err := list(cursor)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), limit)
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		require.Len(t, page.Items, limit, "only the last page is short")
		cursor = page.Next
	}
}

func TestListWorkflows(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		for _, clock := range []struct {
			name string
			now  func() time.Time
		}{
			{"distinct times", ticking(epoch, time.Millisecond)},
			{"same time", func() time.Time { return epoch }}, // ordered by id
		} {
			t.Run(clock.name, func(t *testing.T) {
				ctx := context.Background()
				s := openDB(t, b.dsn(t)).Store().WithClock(clock.now)
				// 9 workflows, newest first: w8 … w0. w1 is deleted.
				var ids []string
				byID := map[string]int{}
				for i := range 9 {
					wf := definition(fmt.Sprintf("w%d", i), "http://x")
					wf.Category = []string{"even", "odd"}[i%2]
					if i%3 == 0 {
						wf.Status = core.WorkflowPaused
					}
					info, err := s.CreateWorkflow(ctx, wf)
					require.NoError(t, err)
					ids = append([]string{info.ID}, ids...)
					byID[info.ID] = i
				}
				require.NoError(t, s.DeleteWorkflow(ctx, ids[len(ids)-2]))

				names := func(items []*core.WorkflowInfo) []string {
					var out []string
					for _, it := range items {
						out = append(out, it.Name)
					}
					return out
				}
				tests := []struct {
					name   string
					filter core.WorkflowFilter
					want   []string
				}{
					{"all", core.WorkflowFilter{}, []string{"w8", "w7", "w6", "w5", "w4", "w3", "w2", "w0"}},
					{"by status", core.WorkflowFilter{Status: core.WorkflowPaused}, []string{"w6", "w3", "w0"}},
					{"by category", core.WorkflowFilter{Category: "odd"}, []string{"w7", "w5", "w3"}},
					{"by both", core.WorkflowFilter{Status: core.WorkflowActive, Category: "even"}, []string{"w8", "w4", "w2"}},
					{"none", core.WorkflowFilter{Category: "nothing"}, nil},
					{"by name", core.WorkflowFilter{Name: "w5"}, []string{"w5"}},
					{"by name, deleted", core.WorkflowFilter{Name: "w1"}, nil},
					{"by name and status", core.WorkflowFilter{Name: "w6", Status: core.WorkflowActive}, nil},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						for _, limit := range []int{1, 3, 8, 0} {
							f := tt.filter
							f.Limit = limit
							got := walk(t, limit, func(cursor string) (core.Page[*core.WorkflowInfo], error) {
								f.Cursor = cursor
								return s.ListWorkflows(ctx, f)
							})
							require.Equal(t, tt.want, names(got), "limit %d", limit)
							for _, it := range got {
								require.Equal(t, fmt.Sprintf("w%d", byID[it.ID]), it.Name)
								require.Equal(t, 1, it.Version)
								require.NotEmpty(t, it.Steps)
							}
						}
					})
				}
			})
		}
	})
}

func TestBadCursors(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store()
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, c := range []string{"!!not base64!!", b64("no separator"), b64("soon|x"), b64("12|"), "a+/="} {
			_, err := s.ListWorkflows(ctx, core.WorkflowFilter{Cursor: c})
			require.ErrorIs(t, err, core.ErrBadCursor, "workflows, cursor %q", c)
		}
		for _, c := range []string{"!!not base64!!", "a+/=", "Zm9v="} {
			_, err := s.ListExecutions(ctx, core.ExecutionFilter{Cursor: c})
			require.ErrorIs(t, err, core.ErrBadCursor, "executions, cursor %q", c)
		}
	})
}

func TestListExecutions(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store()
		// 10 executions a minute apart, newest first: x9 … x0; of workflows
		// a (even) and b (odd); x0, x3, x6, x9 completed, the others pending.
		var all []string
		created := map[string]time.Time{}
		for i := range 10 {
			at := epoch.Add(time.Duration(i) * time.Minute)
			x := &core.Execution{
				ID: uuid.Must(uuid.NewV7()).String(), WorkflowID: []string{"wf-a", "wf-b"}[i%2], WorkflowVersion: 1,
				WorkflowName: fmt.Sprintf("x%d", i), Status: core.StatusPending, Input: map[string]any{"i": float64(i)},
				CreatedAt: at, Steps: map[string]*core.StepState{},
			}
			if i%3 == 0 {
				x.Status, x.Output, x.FinishedAt = core.StatusCompleted, "done", at.Add(time.Second)
			}
			require.NoError(t, s.CreateExecution(ctx, x, nil))
			all = append([]string{x.WorkflowName}, all...)
			created[x.WorkflowName] = at
		}
		tests := []struct {
			name   string
			filter core.ExecutionFilter
			want   []string
		}{
			{"all", core.ExecutionFilter{}, all},
			{"by workflow", core.ExecutionFilter{WorkflowID: "wf-b"}, []string{"x9", "x7", "x5", "x3", "x1"}},
			{"by status", core.ExecutionFilter{Status: core.StatusCompleted}, []string{"x9", "x6", "x3", "x0"}},
			{"by workflow and status", core.ExecutionFilter{WorkflowID: "wf-a", Status: core.StatusPending}, []string{"x8", "x4", "x2"}},
			{"from (inclusive)", core.ExecutionFilter{From: created["x7"]}, []string{"x9", "x8", "x7"}},
			{"to (exclusive)", core.ExecutionFilter{To: created["x2"]}, []string{"x1", "x0"}},
			{"between", core.ExecutionFilter{From: created["x2"], To: created["x6"].Add(time.Microsecond)}, []string{"x6", "x5", "x4", "x3", "x2"}},
			{"between, by workflow", core.ExecutionFilter{WorkflowID: "wf-a", From: created["x2"], To: created["x6"]}, []string{"x4", "x2"}},
			{"none", core.ExecutionFilter{WorkflowID: "wf-none"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, limit := range []int{1, 3, 10, 0} {
					f := tt.filter
					f.Limit = limit
					got := walk(t, limit, func(cursor string) (core.Page[*core.Execution], error) {
						f.Cursor = cursor
						return s.ListExecutions(ctx, f)
					})
					var names []string
					for _, x := range got {
						names = append(names, x.WorkflowName)
						require.Nil(t, x.Steps, "listed without steps")
						require.Equal(t, created[x.WorkflowName], x.CreatedAt)
						require.NotNil(t, x.Input)
					}
					require.Equal(t, tt.want, names, "limit %d", limit)
				}
			})
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		clock := ticking(epoch, time.Second)
		s := openDB(t, b.dsn(t)).Store().WithClock(clock)

		n, err := s.CountKeys(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		keys, err := s.ListKeys(ctx)
		require.NoError(t, err)
		require.Empty(t, keys)

		var saved []core.APIKey
		for i, role := range []string{"admin", "operator", "viewer"} {
			k := core.APIKey{ID: fmt.Sprintf("key-%d", 3-i), Name: role + " key", Role: role,
				Prefix: fmt.Sprintf("wft_%d", i), Hash: fmt.Sprintf("%064d", i)}
			require.NoError(t, s.SaveKey(ctx, k))
			k.CreatedAt = epoch.Add(time.Duration(i+1) * time.Second)
			saved = append(saved, k)
		}
		keys, err = s.ListKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, saved, keys, "oldest first")
		n, err = s.CountKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)

		got, err := s.KeyByHash(ctx, saved[1].Hash)
		require.NoError(t, err)
		require.Equal(t, saved[1], got)

		tests := []struct {
			name string
			err  error
			do   func() error
		}{
			{"unknown hash", core.ErrNotFound, func() error { _, err := s.KeyByHash(ctx, "unknown"); return err }},
			{"empty hash", core.ErrNotFound, func() error { _, err := s.KeyByHash(ctx, ""); return err }},
			{"revoke unknown key", core.ErrNotFound, func() error { return s.RevokeKey(ctx, "no-such-key") }},
			{"save without hash", nil, func() error { return s.SaveKey(ctx, core.APIKey{ID: "k", Role: "admin"}) }},
			{"save without id", nil, func() error { return s.SaveKey(ctx, core.APIKey{Hash: "h", Role: "admin"}) }},
			{"save a hash twice", nil, func() error { return s.SaveKey(ctx, core.APIKey{ID: "k", Role: "admin", Hash: saved[0].Hash}) }},
			{"save an id twice", nil, func() error { return s.SaveKey(ctx, core.APIKey{ID: saved[0].ID, Role: "admin", Hash: "h"}) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.do()
				require.Error(t, err)
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
				}
			})
		}

		// Revoked: still found (refused by name) and listed, no longer counted.
		require.NoError(t, s.RevokeKey(ctx, saved[0].ID))
		got, err = s.KeyByHash(ctx, saved[0].Hash)
		require.NoError(t, err)
		require.False(t, got.RevokedAt.IsZero())
		revokedAt := got.RevokedAt
		require.NoError(t, s.RevokeKey(ctx, saved[0].ID), "revoking twice is fine")
		got, err = s.KeyByHash(ctx, saved[0].Hash)
		require.NoError(t, err)
		require.Equal(t, revokedAt, got.RevokedAt, "first revocation kept")
		n, err = s.CountKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		keys, err = s.ListKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys, 3)
		require.Equal(t, revokedAt, keys[0].RevokedAt)
		require.True(t, keys[1].RevokedAt.IsZero())
	})
}
