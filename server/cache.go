package server

import (
	"sync"
	"time"
)

// lookupTTL is how long a looked-up API key or workflow is used without
// reading it again. Changes made through this server take effect at once
// (it drops what it changed), and so do those of another instance sharing
// PostgreSQL (Options.CatalogChanges); others — `weft apikey revoke --db`
// beside a running server on SQLite, or a notification missed — within
// lookupTTL.
const lookupTTL = 2 * time.Second

// maxCached bounds a cache: past it, the cache starts over (cheaper than
// tracking use, and reached only with that many distinct keys or workflows
// in lookupTTL).
const maxCached = 10_000

// lookupCache keeps what the request path looks up on every request (the
// caller's key, the workflow to run) for lookupTTL, so that a request does
// not read the database for what it read a moment ago. Only what was found
// is kept: an unknown key or workflow is looked up every time, so that one
// created elsewhere works at once.
type lookupCache[V any] struct {
	mu  sync.Mutex
	m   map[string]cached[V]
	now func() time.Time // time.Now; tests set it
}

type cached[V any] struct {
	v     V
	until time.Time
}

func (c *lookupCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !c.clock().Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *lookupCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[string]cached[V]{}
	}
	c.m[key] = cached[V]{v: v, until: c.clock().Add(lookupTTL)}
}

// drop forgets one entry (it changed here).
func (c *lookupCache[V]) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// clear forgets everything.
func (c *lookupCache[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

func (c *lookupCache[V]) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
