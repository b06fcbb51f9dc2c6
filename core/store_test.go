package core_test

import (
	"testing"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/storetest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) core.Store { return core.NewMemoryStore() })
}
