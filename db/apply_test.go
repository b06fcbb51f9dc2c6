package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

// TestApplyWorkflow: an apply creates the workflow of its name, updates it
// (a new version only when something changed), keeps its status when asked,
// and refuses a name several workflows have.
func TestApplyWorkflow(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store()
		wf := definition("leads", "http://a")
		res, err := s.ApplyWorkflow(ctx, wf, core.ApplyOptions{})
		require.NoError(t, err)
		require.Equal(t, core.ApplyCreated, res.Action)
		require.Equal(t, 1, res.Workflow.Version)
		require.Equal(t, core.WorkflowActive, res.Workflow.Status)
		id := res.Workflow.ID

		res, err = s.ApplyWorkflow(ctx, definition("leads", "http://a"), core.ApplyOptions{})
		require.NoError(t, err)
		require.Equal(t, core.ApplyResult{Action: core.ApplyUnchanged, PreviousVersion: 1, Workflow: res.Workflow}, *res)
		require.Equal(t, 1, res.Workflow.Version)

		res, err = s.ApplyWorkflow(ctx, definition("leads", "http://b"), core.ApplyOptions{})
		require.NoError(t, err)
		require.Equal(t, core.ApplyUpdated, res.Action)
		require.Equal(t, 1, res.PreviousVersion)
		require.Equal(t, 2, res.Workflow.Version)
		require.Equal(t, id, res.Workflow.ID)
		require.Equal(t, "http://b", res.Workflow.Steps[0].Config["url"])

		// Paused by an operator: an apply with KeepStatus (a restart's
		// --load) leaves it paused; a plain apply of an ACTIVE file does not.
		paused := definition("leads", "http://b")
		paused.Status = core.WorkflowPaused
		_, err = s.UpdateWorkflow(ctx, id, 0, paused)
		require.NoError(t, err)
		active := definition("leads", "http://b")
		active.Status = core.WorkflowActive
		res, err = s.ApplyWorkflow(ctx, active, core.ApplyOptions{KeepStatus: true})
		require.NoError(t, err)
		require.Equal(t, core.ApplyUnchanged, res.Action)
		require.Equal(t, core.WorkflowPaused, res.Workflow.Status)
		res, err = s.ApplyWorkflow(ctx, active, core.ApplyOptions{})
		require.NoError(t, err)
		require.Equal(t, core.ApplyUpdated, res.Action)
		require.Equal(t, core.WorkflowActive, res.Workflow.Status)

		// Two of one name (create does not look at names): refused, naming
		// both.
		a, err := s.CreateWorkflow(ctx, definition("twice", "http://a"))
		require.NoError(t, err)
		c, err := s.CreateWorkflow(ctx, definition("twice", "http://a"))
		require.NoError(t, err)
		_, err = s.ApplyWorkflow(ctx, definition("twice", "http://c"), core.ApplyOptions{})
		var ae *core.AmbiguousNameError
		require.ErrorAs(t, err, &ae)
		require.ErrorIs(t, err, core.ErrConflict)
		require.ElementsMatch(t, []string{a.ID, c.ID}, ae.IDs)
	})
}

// TestApplyWorkflowConcurrently: applies of one name at once, from several
// stores on one database (instances), make one workflow.
func TestApplyWorkflowConcurrently(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.dsn(t)
		const instances, each = 8, 2
		var wg sync.WaitGroup
		start := make(chan struct{}) // all at once
		results := make(chan *core.ApplyResult, instances*each)
		errs := make(chan error, instances*each)
		for range instances {
			s := openDB(t, dsn).Store()
			for range each {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := s.ApplyWorkflow(ctx, definition("raced", "http://a"), core.ApplyOptions{})
					if err != nil {
						errs <- err
						return
					}
					results <- res
				}()
			}
		}
		close(start)
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		created, ids := 0, map[string]bool{}
		for res := range results {
			if res.Action == core.ApplyCreated {
				created++
			}
			ids[res.Workflow.ID] = true
		}
		require.Equal(t, 1, created, "one apply created it, the others found it")
		require.Len(t, ids, 1)
		page, err := openDB(t, dsn).Store().ListWorkflows(ctx, core.WorkflowFilter{Name: "raced"})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
	})
}
