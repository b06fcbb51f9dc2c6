package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A looked-up value is used for lookupTTL, then looked up again: a key
// revoked elsewhere stops working within that time.
func TestLookupCache(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := lookupCache[string]{now: func() time.Time { return now }}
	_, ok := c.get("k")
	require.False(t, ok, "empty")
	c.put("k", "v")
	v, ok := c.get("k")
	require.True(t, ok)
	require.Equal(t, "v", v)
	now = now.Add(lookupTTL - time.Nanosecond)
	_, ok = c.get("k")
	require.True(t, ok, "still fresh")
	now = now.Add(time.Nanosecond)
	_, ok = c.get("k")
	require.False(t, ok, "expired at lookupTTL")

	c.put("a", "1")
	c.put("b", "2")
	c.drop("a")
	_, ok = c.get("a")
	require.False(t, ok, "dropped")
	_, ok = c.get("b")
	require.True(t, ok)
	c.clear()
	_, ok = c.get("b")
	require.False(t, ok, "cleared")

	for i := range maxCached + 1 {
		c.put(strconv.Itoa(i), "x")
	}
	require.LessOrEqual(t, len(c.m), maxCached, "bounded")
	_, ok = c.get(strconv.Itoa(maxCached))
	require.True(t, ok, "the newest is kept")
}
