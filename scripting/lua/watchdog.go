package lua

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// watchInterval is how often the watchdog samples the heap while scripts run.
const watchInterval = 2 * time.Millisecond

// watchdog bounds what scripts allocate through the Lua VM itself (string
// concatenation, table growth), which no builtin sees. gopher-lua has no
// allocator hook, so while any call runs it samples the process heap; when
// the heap has grown past every running call's allowance (MemoryLimit each)
// since the oldest call started, it forces a collection, and if the growth is
// still there it cancels the oldest call, which fails with SCRIPT_MEMORY.
// The cancelled call stops at its next VM instruction.
type watchdog struct {
	mu      sync.Mutex
	active  map[*call]*watched
	running bool
}

type watched struct {
	start time.Time
	base  uint64 // lowest heap seen while the call ran
}

func newWatchdog() *watchdog { return &watchdog{active: map[*call]*watched{}} }

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMu sync.Mutex

func heapBytes() uint64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

func (w *watchdog) watch(c *call) (stop func()) {
	h := heapBytes()
	w.mu.Lock()
	w.active[c] = &watched{start: time.Now(), base: h}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.active, c)
		w.mu.Unlock()
	}
}

func (w *watchdog) loop() {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for range t.C {
		h := heapBytes()
		victim, ok := w.check(h)
		if !ok {
			return
		}
		if victim == nil {
			continue
		}
		runtime.GC() // the growth may be garbage
		if victim, _ = w.check(heapBytes()); victim == nil {
			continue
		}
		victim.kill(killMemory)
		// Wait for the killed call to unwind, then free what it held so that
		// other calls are not blamed for it.
		for w.isActive(victim) {
			time.Sleep(watchInterval)
		}
		runtime.GC()
	}
}

// check updates the calls' baselines with heap h and returns the oldest call
// whose baseline h exceeds by more than the allowance of all running calls.
// It reports false (and stops the loop) when no call is running.
func (w *watchdog) check(h uint64) (*call, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.active) == 0 {
		w.running = false
		return nil, false
	}
	var victim *call
	var oldest time.Time
	var allowance uint64
	for c := range w.active {
		allowance += uint64(c.limit)
	}
	for c, wc := range w.active {
		if h < wc.base {
			wc.base = h
		}
		if h-wc.base > allowance && (victim == nil || wc.start.Before(oldest)) {
			victim, oldest = c, wc.start
		}
	}
	return victim, true
}

func (w *watchdog) isActive(c *call) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.active[c]
	return ok
}
