package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
)

// remote is a component served by a plugin: every call goes to the plugin's
// current process, started or restarted as needed.
type remote struct {
	p      *process
	kind   sdk.Kind
	name   string // the plugin's own name for it
	checks bool   // the plugin checks its config
	config json.RawMessage
}

// RemoteStep is a plugin's step.
type RemoteStep struct{ remote }

// RemoteTransform is a plugin's transform; its static config is sent with
// every call.
type RemoteTransform struct{ remote }

// RemoteValidator is a plugin's validator; its static config is sent with
// every call.
type RemoteValidator struct{ remote }

var (
	_ sdk.Step          = (*RemoteStep)(nil)
	_ sdk.ConfigChecker = (*RemoteStep)(nil)
	_ sdk.Transform     = (*RemoteTransform)(nil)
	_ sdk.ConfigChecker = (*RemoteTransform)(nil)
	_ sdk.Validator     = (*RemoteValidator)(nil)
	_ sdk.ConfigChecker = (*RemoteValidator)(nil)
	_ json.Unmarshaler  = (*RemoteTransform)(nil)
)

func componentInfo(p *process, c plugin.ComponentInfo) sdk.Info {
	r := remote{p: p, kind: c.Kind, name: c.Name, checks: c.ChecksConfig}
	summary := c.Summary
	if summary == "" {
		summary = fmt.Sprintf("%s of plugin %s.", c.Kind, p.name)
	}
	info := sdk.Info{Kind: c.Kind, Name: qualify(p.name, c.Name), Version: c.Version, Summary: summary, ConfigSchema: c.ConfigSchema}
	switch c.Kind {
	case sdk.KindStep:
		info.New = func() sdk.Component { return &RemoteStep{r} }
	case sdk.KindTransform:
		info.New = func() sdk.Component { return &RemoteTransform{r} }
	case sdk.KindValidator:
		info.New = func() sdk.Component { return &RemoteValidator{r} }
	}
	return info
}

// Info implements sdk.Component.
func (r *remote) Info() sdk.Info {
	for _, c := range r.p.desc.Components {
		if c.Kind == r.kind && c.Name == r.name {
			return componentInfo(r.p, c)
		}
	}
	return sdk.Info{Kind: r.kind, Name: qualify(r.p.name, r.name)}
}

// UnmarshalJSON keeps a transform's or validator's static config, to be sent
// with every call.
func (r *remote) UnmarshalJSON(b []byte) error {
	r.config = append(json.RawMessage(nil), b...)
	return nil
}

// CheckConfig implements sdk.ConfigChecker: the plugin checks the config
// when the workflow is validated, if its component does.
func (r *remote) CheckConfig(config sdk.Value) error {
	if !r.checks {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.p.m.opts.StartTimeout)
	defer cancel()
	p, c, err := r.client(ctx)
	if err == nil {
		if err = c.CheckConfig(ctx, r.kind, r.name, config); errors.Is(err, plugin.ErrTransport) {
			err = r.failed(p, c, err)
		}
		p.release()
	}
	if sdk.AsError(err) != nil && !isVerdict(err) {
		// The plugin is down, not the config wrong: the workflow is not
		// refused for it; its runs will say what is wrong.
		r.p.m.opts.Logger.Warn("plugin could not check a config", "plugin", r.p.name, "component", r.name, "error", err)
		return nil
	}
	return err
}

// isVerdict tells a component's verdict on a config from a failure to get one.
func isVerdict(err error) bool {
	var ve *sdk.ValidationError
	if errors.As(err, &ve) {
		return true
	}
	switch sdk.AsError(err).Code {
	case sdk.CodePluginCrashed, sdk.CodeTimeout, sdk.CodeCancelled, CodePluginStart, CodePluginChecksum, CodePluginProtocol:
		return false
	}
	return true
}

// Run implements sdk.Step.
func (r *RemoteStep) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	run := in.Run
	out, err := r.call(ctx, in.Config, &run)
	return sdk.Output{Data: out}, err
}

// Transform implements sdk.Transform.
func (r *RemoteTransform) Transform(ctx context.Context, in sdk.Value) (sdk.Value, error) {
	return r.call(ctx, in, nil)
}

// Validate implements sdk.Validator.
func (r *RemoteValidator) Validate(ctx context.Context, in sdk.Value) error {
	_, err := r.call(ctx, in, nil)
	return err
}

func (r *remote) call(ctx context.Context, in any, run *sdk.RunInfo) (any, error) {
	p, c, err := r.client(ctx)
	if err != nil {
		return nil, err
	}
	defer p.release()
	out, err := c.Call(ctx, r.kind, r.name, in, r.config, run)
	if err != nil && errors.Is(err, plugin.ErrTransport) {
		return nil, r.failed(p, c, err)
	}
	return out, err
}

// client returns the current process of the component's plugin and a
// client of it, for one call; the caller releases the process after it.
func (r *remote) client(ctx context.Context) (*process, *plugin.Client, error) {
	for tries := 1; ; tries++ {
		p, err := r.process()
		if err != nil {
			return nil, nil, err
		}
		c, err := p.get(ctx)
		if errors.Is(err, errRetired) {
			if tries < 3 && ctx.Err() == nil {
				continue // a Reload replaced it just now: ask again
			}
			return nil, nil, &sdk.Error{Code: sdk.CodePluginCrashed, Retryable: true, Err: err,
				Message: fmt.Sprintf("plugin %s is being reloaded; try again", r.p.name)}
		}
		if err != nil {
			return nil, nil, err
		}
		return p, c, nil
	}
}

// process returns the process now serving the component's plugin: after a
// Reload, the new one.
func (r *remote) process() (*process, error) {
	p, ok := r.p.m.current(r.p.name)
	if !ok {
		return nil, sdk.Errorf(CodePluginStart, "plugin %s was removed from the plugins directory", r.p.name)
	}
	return p, nil
}

// failed turns a transport failure into the step's error and deals with the
// process: one that died is marked crashed (restarted on the next call); one
// that let a call run out of time is checked, and killed when it does not
// answer either (hung).
// The client has put the call's context error in err's chain when the call
// ran out of time or was cancelled (plugin.ErrTransport's contract).
func (r *remote) failed(p *process, c *plugin.Client, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		go p.checkHealth(c) // the call ran out of time: is the plugin still sound?
		return &sdk.Error{Code: sdk.CodeTimeout, Retryable: true,
			Message: fmt.Sprintf("plugin %s: %s %q did not answer in time", p.name, r.kind, r.name), Err: err}
	case errors.Is(err, context.Canceled):
		return &sdk.Error{Code: sdk.CodeCancelled, Message: fmt.Sprintf("plugin %s: %s %q: call cancelled", p.name, r.kind, r.name), Err: err}
	}
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return &sdk.Error{Code: sdk.CodeInvalidInput, Err: err,
			Message: fmt.Sprintf("plugin %s: %s %q: a message exceeded the plugin protocol's %d MiB limit", p.name, r.kind, r.name, plugin.MaxMessageSize>>20)}
	case codes.Unavailable, codes.Canceled:
	default: // the transport refused the call; the plugin is not broken for it
		return &sdk.Error{Code: sdk.CodeInternal, Err: err,
			Message: fmt.Sprintf("plugin %s: %s %q: %v", p.name, r.kind, r.name, err)}
	}
	why := "the plugin process exited during the call"
	if !p.waitExited(c) {
		why = fmt.Sprintf("the connection to the plugin failed: %v", err)
	}
	p.crashed(c, why)
	return &sdk.Error{Code: sdk.CodePluginCrashed, Retryable: true,
		Message: fmt.Sprintf("plugin %s: %s %q: %s; it will be restarted", p.name, r.kind, r.name, why), Err: err}
}
