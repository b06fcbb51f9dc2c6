package db

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// testCommitter is a committer of its own on a fresh SQLite database with a
// table "log" (seq is the order writes were applied in), so that nothing
// else writes through it.
func testCommitter(t testing.TB) (*committer, *DB) {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "weft.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	_, err = d.Bun().ExecContext(ctx, `CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL, n INTEGER NOT NULL)`)
	require.NoError(t, err)
	c := newCommitter(d.Bun(), false, 8)
	return c, d
}

// logWrite appends (who, n) to the log.
func logWrite(who string, n int) func(ctx context.Context, tx bun.Tx) error {
	return func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO log (who, n) VALUES (?, ?)`, who, n)
		return err
	}
}

// Writers at once, each queuing writes it does not wait for between those
// it does: every write is applied, each writer's in the order it queued
// them, and once an awaited write returns, the writer's earlier ones are
// in the database.
func TestCommitterOrderUnderLoad(t *testing.T) {
	t.Parallel()
	c, d := testCommitter(t)
	ctx := context.Background()
	const writers, writes = 16, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := fmt.Sprint("w", w)
			for n := 1; n <= writes; n++ {
				if n%3 != 0 {
					c.async(ctx, nil, false, logWrite(who, n), func(err error) { errs <- err })
					continue
				}
				if err := c.doKeyed(ctx, nil, false, logWrite(who, n)); err != nil {
					errs <- err
					return
				}
				count, err := d.Bun().NewSelect().Table("log").Where("who = ?", who).Count(ctx)
				if err != nil {
					errs <- err
					return
				}
				if int(count) != n {
					errs <- fmt.Errorf("%s: %d of its writes in the database once its write %d returned", who, count, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.close()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	type row struct {
		Who string
		N   int
	}
	var rows []row
	require.NoError(t, d.Bun().NewSelect().Table("log").Column("who", "n").Order("seq").Scan(ctx, &rows))
	require.Len(t, rows, writers*writes)
	next := map[string]int{}
	for _, r := range rows {
		next[r.Who]++
		require.Equal(t, next[r.Who], r.N, "%s's writes in the order queued", r.Who)
	}
}

// Closing commits what is queued and refuses what comes after.
func TestCommitterClose(t *testing.T) {
	t.Parallel()
	c, d := testCommitter(t)
	ctx := context.Background()
	for n := 1; n <= 20; n++ {
		c.async(ctx, nil, false, logWrite("a", n), func(err error) { t.Error(err) })
	}
	c.close()
	n, err := d.Bun().NewSelect().Table("log").Count(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 20, n, "every queued write is committed")
	require.ErrorIs(t, c.doKeyed(ctx, nil, false, logWrite("a", 21)), errClosed)
	c.close() // again: nothing to do
}

// Writers waiting for their writes, as executions at their durable points:
// one alone and eight at once (batches).
func BenchmarkCommitterAwaited(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			c, _ := testCommitter(b)
			defer c.close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						if err := c.doKeyed(ctx, nil, false, logWrite("w", int(n))); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
