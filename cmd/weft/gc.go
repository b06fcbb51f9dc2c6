package main

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the Go collector's GOGC for the long-running commands
// (serve, worker) when the environment sets none. weft's live heap is small
// — about 4 MB under load, most of what it touches being the SQLite page
// cache and code — so at the default of 100 the collector ran ~30 times a
// second at 32 concurrent executions, each run costing a few milliseconds
// of CPU and shrinking every goroutine's stack, which then grew again. At
// 200 it runs half as often for ~5 MB more RSS (docs/performance.md).
// GOGC and GOMEMLIMIT in the environment still rule.
const serverGCPercent = 200

// tuneGC applies serverGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
}
