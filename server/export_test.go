package server

import "time"

// FreezeLookups stops time for s's key and workflow caches: what they hold
// stays fresh, and only a drop or a clear (a change) removes it.
func FreezeLookups(s *Server, now time.Time) {
	s.keyCache.now = func() time.Time { return now }
	s.wfCache.now = s.keyCache.now
}
