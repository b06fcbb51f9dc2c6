package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/scripting/library"
)

var _ library.Store = (*db.Store)(nil)

func TestRules(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store().WithClock(ticking(epoch, time.Second))

		r := core.StoredRule{Name: "score", Description: "d", Language: "lua", Source: "return 1", Config: map[string]any{"k": "v"}}
		created, err := s.CreateRule(ctx, r)
		require.NoError(t, err)
		require.Equal(t, 1, created.Version)
		require.Equal(t, epoch.Add(time.Second), created.CreatedAt)
		require.Equal(t, map[string]any{"k": "v"}, created.Config)
		_, err = s.CreateRule(ctx, r)
		require.ErrorIs(t, err, core.ErrExists)

		got, err := s.GetRule(ctx, "score")
		require.NoError(t, err)
		require.Equal(t, created, got)

		// Nothing changed: no new version.
		same, err := s.UpdateRule(ctx, "score", 1, r)
		require.NoError(t, err)
		require.Equal(t, created, same)
		r.Source = "return 2"
		updated, err := s.UpdateRule(ctx, "score", 1, r)
		require.NoError(t, err)
		require.Equal(t, 2, updated.Version)
		require.Equal(t, created.CreatedAt, updated.CreatedAt)
		require.True(t, updated.UpdatedAt.After(created.UpdatedAt))
		_, err = s.UpdateRule(ctx, "score", 1, r)
		require.ErrorIs(t, err, core.ErrConflict)
		r.Config = nil
		updated, err = s.UpdateRule(ctx, "score", 0, r)
		require.NoError(t, err)
		require.Equal(t, 3, updated.Version, "a config removed is a change")
		require.Nil(t, updated.Config)
		_, err = s.UpdateRule(ctx, "nope", 0, r)
		require.ErrorIs(t, err, core.ErrNotFound)

		_, err = s.CreateRule(ctx, core.StoredRule{Name: "another", Language: "lua", Source: "return 3"})
		require.NoError(t, err)
		list, err := s.ListRules(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "another", list[0].Name, "by name")
		require.Equal(t, updated, list[1])

		require.NoError(t, s.DeleteRule(ctx, "score"))
		require.ErrorIs(t, s.DeleteRule(ctx, "score"), core.ErrNotFound)
		_, err = s.GetRule(ctx, "score")
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func TestModules(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store().WithClock(ticking(epoch, time.Second))
		code := []byte("\x00asm\x01\x00\x00\x00 and some \x00\xff bytes")
		comps := []core.ModuleComponent{{Kind: "transform", Name: "t", Summary: "s"}, {Kind: "validator", Name: "v"}}
		m := core.StoredModule{Name: "leads", SHA256: "abc", Binary: code, Components: comps}

		saved, created, err := s.SaveModule(ctx, m, false)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, int64(len(code)), saved.Size)
		require.Equal(t, comps, saved.Components)
		require.Nil(t, saved.Binary)
		_, _, err = s.SaveModule(ctx, m, false)
		require.ErrorIs(t, err, core.ErrExists)

		got, err := s.GetModule(ctx, "leads")
		require.NoError(t, err)
		require.Equal(t, saved, got)
		withCode, err := s.ModuleBinary(ctx, "leads")
		require.NoError(t, err)
		require.Equal(t, code, withCode.Binary, "bytes kept exactly")

		m.SHA256, m.Binary, m.Components = "def", []byte("\x00asm\x01\x00\x00\x00"), nil
		replaced, created, err := s.SaveModule(ctx, m, true)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, "def", replaced.SHA256)
		require.Equal(t, int64(8), replaced.Size)
		require.Equal(t, []core.ModuleComponent{}, replaced.Components)
		require.Equal(t, saved.CreatedAt, replaced.CreatedAt)
		require.True(t, replaced.UpdatedAt.After(saved.UpdatedAt))

		list, err := s.ListModules(ctx)
		require.NoError(t, err)
		require.Equal(t, []core.StoredModule{replaced}, list)

		require.NoError(t, s.DeleteModule(ctx, "leads"))
		require.ErrorIs(t, s.DeleteModule(ctx, "leads"), core.ErrNotFound)
		_, err = s.GetModule(ctx, "leads")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = s.ModuleBinary(ctx, "leads")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, _, err = s.SaveModule(ctx, core.StoredModule{Name: "x"}, false)
		require.Error(t, err)
	})
}
