package sdk_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

// echoStep is a struct component implementing sdk.Step.
type echoStep struct{}

func (*echoStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "test.echo", New: func() sdk.Component { return new(echoStep) }}
}

func (*echoStep) Run(_ context.Context, in sdk.Input) (sdk.Output, error) {
	return sdk.Output{Data: in.Config}, nil
}

// infoOnly implements no behaviour interface.
type infoOnly struct{ info sdk.Info }

func (c infoOnly) Info() sdk.Info { return c.info }

func newNoop() sdk.Component { return new(echoStep) }

func TestKindValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind sdk.Kind
		want bool
	}{
		{name: "step", kind: sdk.KindStep, want: true},
		{name: "transform", kind: sdk.KindTransform, want: true},
		{name: "validator", kind: sdk.KindValidator, want: true},
		{name: "empty", kind: "", want: false},
		{name: "capitalised", kind: "Step", want: false},
		{name: "unknown", kind: "source", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.kind.Valid())
		})
	}
}

func TestInfoCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		info    sdk.Info
		wantErr string // substring; "" for no error
	}{
		{name: "dotted name", info: sdk.Info{Kind: sdk.KindStep, Name: "crm.upsert_contact", New: newNoop}},
		{name: "upper case name", info: sdk.Info{Kind: sdk.KindStep, Name: "HTTP_REQUEST", New: newNoop}},
		{name: "digits after the first letter", info: sdk.Info{Kind: sdk.KindTransform, Name: "v2.a1", New: newNoop}},
		{name: "100 characters", info: sdk.Info{Kind: sdk.KindValidator, Name: "a" + strings.Repeat("b", 99), New: newNoop}},
		{name: "unknown kind", info: sdk.Info{Kind: "source", Name: "x", New: newNoop}, wantErr: `component "x": unknown kind "source"`},
		{name: "empty kind", info: sdk.Info{Name: "x", New: newNoop}, wantErr: `unknown kind ""`},
		{name: "empty name", info: sdk.Info{Kind: sdk.KindStep, New: newNoop}, wantErr: `component "": name must be`},
		{name: "space", info: sdk.Info{Kind: sdk.KindStep, Name: "my step", New: newNoop}, wantErr: "name must be"},
		{name: "leading digit", info: sdk.Info{Kind: sdk.KindStep, Name: "1step", New: newNoop}, wantErr: "name must be"},
		{name: "leading digit after a dot", info: sdk.Info{Kind: sdk.KindStep, Name: "crm.1x", New: newNoop}, wantErr: "name must be"},
		{name: "dash", info: sdk.Info{Kind: sdk.KindStep, Name: "my-step", New: newNoop}, wantErr: "name must be"},
		{name: "double dot", info: sdk.Info{Kind: sdk.KindStep, Name: "a..b", New: newNoop}, wantErr: "name must be"},
		{name: "trailing dot", info: sdk.Info{Kind: sdk.KindStep, Name: "a.", New: newNoop}, wantErr: "name must be"},
		{name: "leading underscore", info: sdk.Info{Kind: sdk.KindStep, Name: "_a", New: newNoop}, wantErr: "name must be"},
		{name: "non-ASCII letter", info: sdk.Info{Kind: sdk.KindStep, Name: "café", New: newNoop}, wantErr: "name must be"},
		{name: "101 characters", info: sdk.Info{Kind: sdk.KindStep, Name: "a" + strings.Repeat("b", 100), New: newNoop}, wantErr: "at most 100 characters"},
		{name: "nil New", info: sdk.Info{Kind: sdk.KindStep, Name: "x"}, wantErr: `component step "x": Info.New is nil`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.info.Check()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCheckComponent(t *testing.T) {
	t.Parallel()
	transform := sdk.NewTransform("test.check.t", func(_ context.Context, in any) (any, error) { return in, nil })
	validator := sdk.NewValidator("test.check.v", func(context.Context, any) error { return nil })
	step := sdk.NewStep("test.check.s", func(_ context.Context, in any) (any, error) { return in, nil })
	as := func(c sdk.Component, k sdk.Kind) sdk.Info {
		i := c.Info()
		i.Kind = k
		return i
	}
	tests := []struct {
		name    string
		info    sdk.Info
		wantErr string
	}{
		{name: "function step", info: step.Info()},
		{name: "function transform", info: transform.Info()},
		{name: "function validator", info: validator.Info()},
		{name: "struct step", info: new(echoStep).Info()},
		{name: "transform registered as a step", info: as(transform, sdk.KindStep), wantErr: `step "test.check.t": *sdk.funcTransform[interface {},interface {}] does not implement sdk.Step`},
		{name: "step registered as a transform", info: as(step, sdk.KindTransform), wantErr: "does not implement sdk.Transform"},
		{name: "transform registered as a validator", info: as(transform, sdk.KindValidator), wantErr: "does not implement sdk.Validator"},
		{
			name:    "no behaviour at all",
			info:    sdk.Info{Kind: sdk.KindStep, Name: "test.check.none", New: func() sdk.Component { return infoOnly{} }},
			wantErr: "sdk_test.infoOnly does not implement sdk.Step",
		},
		{
			name:    "New returns nil",
			info:    sdk.Info{Kind: sdk.KindStep, Name: "test.check.nil", New: func() sdk.Component { return nil }},
			wantErr: `step "test.check.nil": New returned nil`,
		},
		{name: "invalid info", info: sdk.Info{Kind: sdk.KindStep, Name: "bad name", New: newNoop}, wantErr: "name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sdk.CheckComponent(tt.info)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// registerPanic calls sdk.Register and returns what it panicked with, or "".
func registerPanic(c sdk.Component) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	sdk.Register(c)
	return ""
}

func anyStep(name string) sdk.Component {
	return sdk.NewStep(name, func(_ context.Context, in any) (any, error) { return in, nil })
}

func TestRegister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first sdk.Component // registered first, must not panic; may be nil
		then  sdk.Component
		want  string // panic message; "" for none
	}{
		{name: "new name", then: anyStep("test.reg.fresh")},
		{
			name:  "duplicate",
			first: anyStep("test.reg.dup"),
			then:  anyStep("test.reg.dup"),
			want:  `sdk.Register: step "test.reg.dup" already registered`,
		},
		{
			name:  "same name, other kind",
			first: anyStep("test.reg.shared"),
			then:  sdk.NewValidator("test.reg.shared", func(context.Context, any) error { return nil }),
		},
		{name: "invalid name", then: anyStep("test reg"), want: `sdk.Register: component "test reg": name must be`},
		{
			name: "invalid kind",
			then: infoOnly{sdk.Info{Kind: "source", Name: "test.reg.kind", New: newNoop}},
			want: `sdk.Register: component "test.reg.kind": unknown kind "source"`,
		},
		{
			name: "nil New",
			then: infoOnly{sdk.Info{Kind: sdk.KindStep, Name: "test.reg.nonew"}},
			want: `sdk.Register: component step "test.reg.nonew": Info.New is nil`,
		},
		{
			name: "wrong interface",
			then: infoOnly{sdk.Info{Kind: sdk.KindTransform, Name: "test.reg.wrong", New: newNoop}},
			want: `sdk.Register: transform "test.reg.wrong": *sdk_test.echoStep does not implement sdk.Transform`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.first != nil {
				require.Empty(t, registerPanic(tt.first))
			}
			got := registerPanic(tt.then)
			if tt.want == "" {
				require.Empty(t, got)
				info := tt.then.Info()
				require.True(t, slices.ContainsFunc(sdk.Registered(), func(i sdk.Info) bool {
					return i.Kind == info.Kind && i.Name == info.Name
				}))
				return
			}
			require.True(t, strings.HasPrefix(got, tt.want), "panic %q, want prefix %q", got, tt.want)
		})
	}
}

func TestRegisteredIsSortedByKindThenName(t *testing.T) {
	t.Parallel()
	const prefix = "test.sorted."
	sdk.Register(sdk.NewValidator(prefix+"a", func(context.Context, any) error { return nil }))
	sdk.Register(sdk.NewTransform(prefix+"b", func(_ context.Context, in any) (any, error) { return in, nil }))
	sdk.Register(anyStep(prefix + "c"))
	sdk.Register(sdk.NewTransform(prefix+"a", func(_ context.Context, in any) (any, error) { return in, nil }))
	sdk.Register(anyStep(prefix + "B"))

	var got []string
	all := sdk.Registered()
	for _, i := range all {
		if strings.HasPrefix(i.Name, prefix) {
			got = append(got, string(i.Kind)+" "+i.Name)
		}
	}
	require.Equal(t, []string{
		"step test.sorted.B",
		"step test.sorted.c",
		"transform test.sorted.a",
		"transform test.sorted.b",
		"validator test.sorted.a",
	}, got)
	require.True(t, slices.IsSortedFunc(all, func(a, b sdk.Info) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}))
	for _, i := range all {
		require.NoError(t, sdk.CheckComponent(i), "every registered info is usable")
	}
}
