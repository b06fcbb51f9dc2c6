// Package steps provides weft's built-in step types: HTTP_REQUEST,
// DATA_TRANSFORM, CONDITIONAL, PARALLEL, FOR_EACH, WAIT, WEBHOOK_CALL and
// VALIDATION. They are registered into a core.Registry like any other
// component; HTTP_REQUEST and WEBHOOK_CALL are plain sdk.Steps, the others
// are core.EngineSteps because they direct other steps or read the
// execution's scope.
package steps

import (
	"net/http"

	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/sdk"
)

// Step type names.
const (
	TypeHTTPRequest   = "HTTP_REQUEST"
	TypeDataTransform = "DATA_TRANSFORM"
	TypeConditional   = "CONDITIONAL"
	TypeParallel      = "PARALLEL"
	TypeForEach       = "FOR_EACH"
	TypeWait          = "WAIT"
	TypeWebhookCall   = "WEBHOOK_CALL"
	TypeValidation    = "VALIDATION"
)

// Defaults of Options.
const (
	DefaultMaxResponseBytes = 10 << 20
	DefaultMaxForEachItems  = 10000
)

// Options configure the built-in steps. The zero value works.
type Options struct {
	// Client makes every outbound call; the default is egress.NewClient with
	// the default policy (cloud-metadata and link-local addresses refused).
	Client *http.Client
	// Clock stamps webhook signatures; default the real clock.
	Clock clockwork.Clock
	// MaxResponseBytes caps HTTP response bodies; a step may lower it.
	MaxResponseBytes int64
	// MaxForEachItems caps the items of one FOR_EACH.
	MaxForEachItems int
	// UserAgent is sent with every request; default "weft".
	UserAgent string
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = egress.NewClient(egress.Options{})
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxForEachItems <= 0 {
		o.MaxForEachItems = DefaultMaxForEachItems
	}
	if o.UserAgent == "" {
		o.UserAgent = "weft"
	}
	return o
}

// Register adds the eight built-in step types to r.
func Register(r *core.Registry, opts Options) error {
	opts = opts.withDefaults()
	builtins := []sdk.Component{
		&HTTPRequest{opts: opts},
		&WebhookCall{opts: opts},
		&DataTransform{},
		&Conditional{},
		&Parallel{},
		&ForEach{maxItems: opts.MaxForEachItems},
		&Wait{},
		&Validation{},
	}
	for _, c := range builtins {
		if err := r.Register(core.Entry{Info: c.Info(), Origin: core.OriginBuiltin}); err != nil {
			return err
		}
	}
	return nil
}

// NewRegistry returns a registry with the compiled-in components and the
// built-in step types.
func NewRegistry(opts Options) *core.Registry {
	r := core.NewRegistry()
	if err := Register(r, opts); err != nil {
		panic(err) // only on a duplicate name: a programming error
	}
	return r
}
