package lua

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// watchInterval is how often the watchdog samples the heap while scripts run.
const watchInterval = 2 * time.Millisecond

// watchdog bounds what scripts allocate through the Lua VM itself (table
// growth, closures), which no builtin sees. gopher-lua has no allocator
// hook, so while any call runs the watchdog samples the process heap every
// watchInterval. Each call keeps the lowest heap seen while it runs as its
// baseline. When the heap is more than the allowance of all running calls
// (MemoryLimit each) above the oldest such baseline, the watchdog starts a
// collection, and cancels the call if the live heap that collection marks
// (less what was allocated while it marked, which it counts as live
// whatever it is) is still past the allowance. So garbage, which piles up
// between collections and is mostly other goroutines' doing, blames no one;
// live growth elsewhere during a call still can, when it exceeds the
// allowance of every running call. The collection's assists slow a bomb
// down while it runs. A cancelled call stops at its next VM instruction and
// fails with SCRIPT_MEMORY.
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

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
	{Name: "/gc/heap/live:bytes"},                // marked live by the last collection
	{Name: "/gc/heap/allocs:bytes"},              // allocated since the process started
}
var heapMu sync.Mutex

// heap is one sample of the process heap.
type heap struct{ objects, live, allocs uint64 }

func readHeap() heap {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSamples)
	return heap{objects: heapSamples[0].Value.Uint64(), live: heapSamples[1].Value.Uint64(), allocs: heapSamples[2].Value.Uint64()}
}

func (w *watchdog) watch(c *call) (stop func()) {
	h := readHeap().objects
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
	var gcFrom heap          // the heap when it started
	for range t.C {
		h := readHeap()
		victim, ok := w.check(h.objects, true)
		if !ok {
			return
		}
		if victim == nil {
			gcDone = nil
			continue
		}
		// Past the allowance: collect (without blocking the sampling), then
		// judge by what that collection found live.
		if gcDone == nil {
			gcDone, gcFrom = make(chan struct{}), h
			go func(done chan struct{}) { runtime.GC(); close(done) }(gcDone)
			continue
		}
		select {
		case <-gcDone:
		default:
			continue
		}
		gcDone = nil
		// What was allocated while the collection marked counts as live for
		// it, garbage or not: leave it out. A bomb's growth before the
		// collection started is what is judged.
		after := readHeap()
		live := after.live - min(after.allocs-gcFrom.allocs, after.live)
		if victim, _ = w.check(live, false); victim == nil {
			continue
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

// check returns the oldest call whose baseline heap h exceeds by more than
// the allowance of all running calls; with update, h also lowers the
// baselines it is below. It reports false (and stops the loop) when no call
// is running.
func (w *watchdog) check(h uint64, update bool) (victim *call, running bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.active) == 0 {
		w.running = false
		return nil, false
	}
	var oldest time.Time
	var allowance uint64
	for c := range w.active {
		allowance += uint64(c.limit)
	}
	for c, wc := range w.active {
		if update && h < wc.base {
			wc.base = h
		}
		if h > wc.base && h-wc.base > allowance && (victim == nil || wc.start.Before(oldest)) {
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
