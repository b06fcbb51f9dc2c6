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
// allocator hook, so while any call runs the watchdog samples the process
// heap every watchInterval. Each call keeps the lowest heap seen while it
// runs as its baseline. When the heap is more than the allowance of all
// running calls (MemoryLimit each) above the oldest such baseline, the
// watchdog starts a collection (the growth may be garbage) and cancels the
// call if the growth survives it, or at once when the heap is twice the
// allowance past the baseline. A cancelled call stops at its next VM
// instruction and fails with SCRIPT_MEMORY.
type watchdog struct {
	mu      sync.Mutex
	active  map[*call]*watched
	running bool
}

type watched struct {
	start time.Time
	base  uint64 // lowest heap seen while the call ran
}

// processWatchdog watches the calls of every Runtime: they share one heap.
var processWatchdog = &watchdog{active: map[*call]*watched{}}

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
	var gcDone chan struct{} // a collection confirming an overrun is under way
	for range t.C {
		victim, far, ok := w.check(heapBytes())
		if !ok {
			return
		}
		if victim == nil {
			gcDone = nil
			continue
		}
		if !far {
			// Past the allowance but not twice past it: the growth may be
			// garbage. Collect (without blocking the sampling), then look
			// again; twice past it, do not wait.
			if gcDone == nil {
				gcDone = make(chan struct{})
				go func(done chan struct{}) { runtime.GC(); close(done) }(gcDone)
				continue
			}
			select {
			case <-gcDone:
			default:
				continue
			}
			gcDone = nil
			if victim, _, _ = w.check(heapBytes()); victim == nil {
				continue
			}
		}
		victim.kill(killMemory)
		// Wait for the killed call to unwind, then free what it held so that
		// other calls are not blamed for it.
		for w.isActive(victim) {
			time.Sleep(watchInterval)
		}
		runtime.GC()
		gcDone = nil
	}
}

// check updates the calls' baselines with heap h and returns the oldest call
// whose baseline h exceeds by more than the allowance of all running calls,
// and whether it does so by more than twice the allowance. It reports false
// (and stops the loop) when no call is running.
func (w *watchdog) check(h uint64) (victim *call, far, running bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.active) == 0 {
		w.running = false
		return nil, false, false
	}
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
			far = h-wc.base > 2*allowance
		}
	}
	return victim, far, true
}

func (w *watchdog) isActive(c *call) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.active[c]
	return ok
}
