package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weftworks/weft/core"
)

// channel is the PostgreSQL notification channel engines listen on.
const channel = "weft_executions"

// catalogChannel announces a change of a workflow or an API key, so that
// servers sharing the database drop what they cached of them at once
// (server's lookup cache; its TTL is the backstop).
const catalogChannel = "weft_catalog"

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
	return s.subscribe(ctx, channel)
}

// catalogChanged announces that workflows or API keys changed (PostgreSQL;
// best effort: a server that misses it sees the change within its cache's
// TTL).
func (s *Store) catalogChanged(ctx context.Context) {
	if s.db.pg {
		_, _ = s.db.bun.ExecContext(context.WithoutCancel(ctx), "SELECT pg_notify(?, '')", catalogChannel)
	}
}

// CatalogChanges returns a channel that receives when workflows or API keys
// change in the database, through any instance — and after the listening
// connection was lost and made again, when changes may have been missed. On
// PostgreSQL only; on SQLite it is nil (weft apikey revoke --db beside a
// server sends nothing: its cache's TTL applies). The channel is closed
// once ctx is done.
func (s *Store) CatalogChanges(ctx context.Context) (<-chan struct{}, error) {
	if !s.db.pg {
		return nil, nil
	}
	return s.subscribe(ctx, catalogChannel)
}

func (s *Store) subscribe(ctx context.Context, channel string) (<-chan struct{}, error) {
	c := make(chan struct{}, 1)
	if !s.db.pg {
		return c, nil
	}
	conn, err := s.listen(ctx, channel)
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(c)
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
					if conn, err = s.listen(ctx, channel); err == nil {
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

func (s *Store) listen(ctx context.Context, channel string) (*pgx.Conn, error) {
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
