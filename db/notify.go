package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weftworks/weft/core"
)

// channel is the PostgreSQL notification channel engines listen on.
const channel = "weft_executions"

var _ core.Notifier = (*Store)(nil)

// Notify implements core.Notifier: on PostgreSQL it sends NOTIFY, so engines
// sharing the database claim new work at once instead of at their next poll.
// On SQLite it does nothing (engines of this process are woken directly).
func (s *Store) Notify(ctx context.Context) error {
	if !s.db.pg {
		return nil
	}
	_, err := s.db.bun.ExecContext(ctx, "SELECT pg_notify(?, '')", channel)
	return err
}

// Subscribe implements core.Notifier. On PostgreSQL a dedicated connection
// LISTENs, reconnecting after errors; on SQLite the channel never fires.
func (s *Store) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	c := make(chan struct{}, 1)
	if !s.db.pg {
		return c, nil
	}
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	go func() {
		defer func() { _ = conn.Close(context.Background()) }()
		for {
			_, err := conn.WaitForNotification(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				_ = conn.Close(context.Background())
				for {
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
					if conn, err = s.listen(ctx); err == nil {
						break
					}
				}
			}
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}()
	return c, nil
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.db.dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}
