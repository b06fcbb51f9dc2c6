// Command echo is a test plugin: a step whose config says how to misbehave,
// a transform and a validator.
package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
)

type stepIn struct {
	Say            string `json:"say"`
	Env            string `json:"env"`
	Panic          bool   `json:"panic"`
	GoroutinePanic bool   `json:"goroutinePanic"`
	Exit           int    `json:"exit"`
	Hang           bool   `json:"hang"`
	Fail           string `json:"fail"`
	SleepMs        int    `json:"sleepMs"`
	Log            string `json:"log"`
}

type stepOut struct {
	Said    string `json:"said"`
	Env     string `json:"env,omitempty"`
	Attempt int    `json:"attempt"`
	Key     string `json:"key"`
}

// Echo is a step with a config check.
type Echo struct{}

func (*Echo) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "echo", Version: "1.2.3", Summary: "Echoes, or misbehaves on request.",
		ConfigSchema: []byte(`{"type": "object", "properties": {"say": {"type": "string"}}}`),
		New:          func() sdk.Component { return &Echo{} }}
}

func (*Echo) CheckConfig(config sdk.Value) error {
	return sdk.CheckConfigShape(config, stepIn{})
}

func (*Echo) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	var c stepIn
	if err := in.Decode(&c); err != nil {
		return sdk.Output{}, err
	}
	switch {
	case c.Log != "":
		plugin.Logger().Warn(c.Log, "step", in.Run.StepID)
	case c.Panic:
		panic("echo was asked to panic")
	case c.GoroutinePanic:
		go panic("echo was asked to crash")
		time.Sleep(time.Minute)
	case c.Exit != 0:
		os.Exit(c.Exit)
	case c.Hang:
		select {} // ignores its context, as a stuck plugin does
	case c.Fail != "":
		return sdk.Output{}, &sdk.Error{Code: c.Fail, Message: "asked to fail", Retryable: true, Details: map[string]any{"why": "test"}}
	case c.SleepMs > 0:
		select {
		case <-time.After(time.Duration(c.SleepMs) * time.Millisecond):
		case <-ctx.Done():
			return sdk.Output{}, ctx.Err()
		}
	}
	out := stepOut{Said: c.Say, Attempt: in.Run.Attempt, Key: in.Run.IdempotencyKey}
	if c.Env != "" {
		out.Env = os.Getenv(c.Env)
	}
	return sdk.Output{Data: out}, nil
}

type upper struct {
	Suffix string `json:"suffix"`
}

func (*upper) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "upper", New: func() sdk.Component { return &upper{} }}
}

func (u *upper) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	s, ok := in.(string)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "want a string, got %s", sdk.TypeName(in))
	}
	return strings.ToUpper(s) + u.Suffix, nil
}

func main() {
	plugin.Serve(
		&Echo{},
		&upper{},
		sdk.NewValidator("email", func(_ context.Context, in struct {
			Email string `json:"email"`
		}) error {
			if !strings.Contains(in.Email, "@") {
				ve := &sdk.ValidationError{}
				ve.Add("email", "is not an e-mail address")
				return ve
			}
			return nil
		}),
		sdk.NewTransform("fail", func(context.Context, any) (any, error) { return nil, errors.New("plain error") }),
	)
}
