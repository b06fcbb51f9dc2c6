package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

func breakerRow(s *core.BreakerState, now int64) (*CircuitBreaker, error) {
	cfg, err := toJSON(s.Config)
	if err != nil {
		return nil, err
	}
	return &CircuitBreaker{
		ServiceID: s.ServiceID, State: CircuitBreakerState(s.State), Config: cfg, ConfigSource: s.ConfigSource,
		ConsecutiveFailures: s.ConsecutiveFailures, HalfOpenCalls: s.HalfOpenCalls, HalfOpenSuccesses: s.HalfOpenSuccesses,
		OpenedAt: micros(s.OpenedAt), StateChangedAt: micros(s.StateChangedAt), LastFailureAt: micros(s.LastFailureAt),
		LastSuccessAt: micros(s.LastSuccessAt), TotalCalls: s.TotalCalls, TotalSuccesses: s.TotalSuccesses,
		TotalFailures: s.TotalFailures, TotalRejections: s.TotalRejections, Generation: s.Generation, UpdatedAt: now,
	}, nil
}

func (r *CircuitBreaker) state() (core.BreakerState, error) {
	s := core.BreakerState{
		ServiceID: r.ServiceID, State: string(r.State), ConfigSource: r.ConfigSource,
		ConsecutiveFailures: r.ConsecutiveFailures, HalfOpenCalls: r.HalfOpenCalls, HalfOpenSuccesses: r.HalfOpenSuccesses,
		OpenedAt: fromMicros(r.OpenedAt), StateChangedAt: fromMicros(r.StateChangedAt), LastFailureAt: fromMicros(r.LastFailureAt),
		LastSuccessAt: fromMicros(r.LastSuccessAt), TotalCalls: r.TotalCalls, TotalSuccesses: r.TotalSuccesses,
		TotalFailures: r.TotalFailures, TotalRejections: r.TotalRejections, Generation: r.Generation,
	}
	err := fromJSON(r.Config, &s.Config)
	return s, err
}

// UpdateBreaker implements core.BreakerStore: an atomic read-modify-write of
// the breaker's row (locked FOR UPDATE on PostgreSQL; on SQLite the
// committer is the only writer), so every instance sharing the database sees
// one breaker.
func (s *Store) UpdateBreaker(ctx context.Context, id string, fn func(*core.BreakerState, bool) error) (core.BreakerState, error) {
	var out core.BreakerState
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := new(CircuitBreaker)
		q := tx.NewSelect().Model(row).Where("service_id = ?", id)
		if s.db.pg {
			q = q.For("UPDATE")
		}
		err := q.Scan(ctx)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var st core.BreakerState
		if exists {
			if st, err = row.state(); err != nil {
				return err
			}
		}
		if err := fn(&st, exists); err != nil {
			return err
		}
		st.ServiceID = id
		nrow, err := breakerRow(&st, micros(s.now()))
		if err != nil {
			return err
		}
		// What was stored (times to the microsecond), as GetBreaker reads it.
		if out, err = nrow.state(); err != nil {
			return err
		}
		_, err = tx.NewInsert().Model(nrow).On("CONFLICT (service_id) DO UPDATE").
			Set("state = EXCLUDED.state, config = EXCLUDED.config, config_source = EXCLUDED.config_source").
			Set("consecutive_failures = EXCLUDED.consecutive_failures, half_open_calls = EXCLUDED.half_open_calls").
			Set("half_open_successes = EXCLUDED.half_open_successes, opened_at = EXCLUDED.opened_at").
			Set("state_changed_at = EXCLUDED.state_changed_at, last_failure_at = EXCLUDED.last_failure_at").
			Set("last_success_at = EXCLUDED.last_success_at, total_calls = EXCLUDED.total_calls").
			Set("total_successes = EXCLUDED.total_successes, total_failures = EXCLUDED.total_failures").
			Set("total_rejections = EXCLUDED.total_rejections, generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		return err
	})
	return out, err
}

// GetBreaker implements core.BreakerStore.
func (s *Store) GetBreaker(ctx context.Context, id string) (core.BreakerState, error) {
	row := new(CircuitBreaker)
	err := s.db.bun.NewSelect().Model(row).Where("service_id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return core.BreakerState{}, core.ErrNotFound
	}
	if err != nil {
		return core.BreakerState{}, fmt.Errorf("get breaker %s: %w", id, err)
	}
	return row.state()
}

// ListBreakers implements core.BreakerStore.
func (s *Store) ListBreakers(ctx context.Context) ([]core.BreakerState, error) {
	var rows []CircuitBreaker
	if err := s.db.bun.NewSelect().Model(&rows).Order("service_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list breakers: %w", err)
	}
	out := make([]core.BreakerState, 0, len(rows))
	for i := range rows {
		st, err := rows[i].state()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// DeleteBreaker implements core.BreakerStore.
func (s *Store) DeleteBreaker(ctx context.Context, id string) error {
	return s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*CircuitBreaker)(nil)).Where("service_id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.ErrNotFound
		}
		return nil
	})
}
