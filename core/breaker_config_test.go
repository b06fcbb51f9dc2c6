package core_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

func TestBreakerUpdateConfig(t *testing.T) {
	t.Parallel()
	b, _ := newBreakerFixture(t)
	ctx := t.Context()

	// A breaker that does not exist yet: created from the defaults.
	st, err := b.UpdateConfig(ctx, "crm", func(c *core.BreakerConfig) { c.Threshold = 10 })
	require.NoError(t, err)
	require.Equal(t, core.BreakerClosed, st.State)
	require.Equal(t, core.BreakerConfigFromAPI, st.ConfigSource)
	require.Equal(t, core.BreakerConfig{Threshold: 10, Timeout: core.DefaultBreakerTimeoutMs,
		HalfOpenMaxCalls: core.DefaultBreakerHalfOpenMaxCalls}, st.Config)

	// One field changed, the others kept.
	st, err = b.UpdateConfig(ctx, "crm", func(c *core.BreakerConfig) { c.Timeout = 5000 })
	require.NoError(t, err)
	require.Equal(t, core.BreakerConfig{Threshold: 10, Timeout: 5000, HalfOpenMaxCalls: 1}, st.Config)

	// A breaker configured by its step: the step's values are the current ones.
	brkCall(t, b, core.BreakerRef{ServiceID: "billing", Threshold: 3, Timeout: 1000}, nil)
	st, err = b.UpdateConfig(ctx, "billing", func(c *core.BreakerConfig) { c.HalfOpenMaxCalls = 2 })
	require.NoError(t, err)
	require.Equal(t, core.BreakerConfig{Threshold: 3, Timeout: 1000, HalfOpenMaxCalls: 2}, st.Config)
	require.Equal(t, core.BreakerConfigFromAPI, st.ConfigSource)

	// Invalid: every problem, nothing changed, nothing created.
	_, err = b.UpdateConfig(ctx, "crm", func(c *core.BreakerConfig) { *c = core.BreakerConfig{Timeout: 1 << 50} })
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var paths []string
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	require.ElementsMatch(t, []string{"threshold", "timeout", "halfOpenMaxCalls"}, paths)
	st, err = b.Get(ctx, "crm")
	require.NoError(t, err)
	require.Equal(t, core.BreakerConfig{Threshold: 10, Timeout: 5000, HalfOpenMaxCalls: 1}, st.Config)
	_, err = b.UpdateConfig(ctx, "new", func(c *core.BreakerConfig) { c.Threshold = 0 })
	require.Error(t, err)
	_, err = b.Get(ctx, "new")
	require.ErrorIs(t, err, core.ErrNotFound)

	// Concurrent changes of different fields are all kept.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := b.UpdateConfig(ctx, "race", func(c *core.BreakerConfig) {
				if i%2 == 0 {
					c.Threshold = 7
				} else {
					c.HalfOpenMaxCalls = 9
				}
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	st, err = b.Get(ctx, "race")
	require.NoError(t, err)
	require.Equal(t, core.BreakerConfig{Threshold: 7, Timeout: core.DefaultBreakerTimeoutMs, HalfOpenMaxCalls: 9}, st.Config)
}
