package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// API keys (server.Keys), stored as their SHA-256: the server makes a key,
// shows it once and stores its hash; a request's key is found by its hash.

func (r *APIKey) key() core.APIKey {
	return core.APIKey{ID: r.ID, Name: r.Name, Role: r.Role, Prefix: r.Prefix, Hash: r.Hash,
		CreatedAt: fromMicros(r.CreatedAt), RevokedAt: fromMicros(r.RevokedAt)}
}

// SaveKey stores a new key; its ID and Hash must be set. A key without a
// creation time is created now.
func (s *Store) SaveKey(ctx context.Context, k core.APIKey) error {
	if k.ID == "" || k.Hash == "" {
		return fmt.Errorf("save API key %q: its id and hash are required", k.Name)
	}
	created := k.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	row := &APIKey{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, Hash: k.Hash,
		CreatedAt: micros(created), RevokedAt: micros(k.RevokedAt)}
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("save API key %s: %w", k.ID, err)
	}
	return nil
}

// KeyByHash returns the key with that hash, revoked or not, or
// core.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash string) (core.APIKey, error) {
	if hash == "" {
		return core.APIKey{}, fmt.Errorf("API key: %w", core.ErrNotFound)
	}
	row := new(APIKey)
	err := s.db.bun.NewSelect().Model(row).Where("hash = ?", hash).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return core.APIKey{}, fmt.Errorf("API key: %w", core.ErrNotFound)
	}
	if err != nil {
		return core.APIKey{}, fmt.Errorf("find API key: %w", err)
	}
	return row.key(), nil
}

// ListKeys lists every key, revoked ones too, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]core.APIKey, error) {
	var rows []APIKey
	if err := s.db.bun.NewSelect().Model(&rows).OrderExpr("created_at, id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	out := make([]core.APIKey, len(rows))
	for i := range rows {
		out[i] = rows[i].key()
	}
	return out, nil
}

// RevokeKey revokes a key, or returns core.ErrNotFound. A key revoked
// again keeps the time it was first revoked.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	now := micros(s.now())
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*APIKey)(nil)).Set("revoked_at = ?", now).
			Where("id = ? AND revoked_at = 0", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		exists, err := tx.NewSelect().Model((*APIKey)(nil)).Where("id = ?", id).Exists(ctx)
		if err != nil {
			return err
		}
		if !exists {
			return core.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	s.catalogChanged(ctx)
	return nil
}

// CountKeys counts the keys that are not revoked.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	n, err := s.db.bun.NewSelect().Model((*APIKey)(nil)).Where("revoked_at = 0").Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count API keys: %w", err)
	}
	return int(n), nil
}
