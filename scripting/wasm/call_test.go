package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/sdk"
)

func transform(t testing.TB, reg *core.Registry, name string, config string) sdk.Transform {
	t.Helper()
	e, ok := reg.Lookup(sdk.KindTransform, name)
	require.True(t, ok, name)
	inst := e.New()
	if config != "" {
		require.NoError(t, inst.(interface{ UnmarshalJSON([]byte) error }).UnmarshalJSON([]byte(config)))
	}
	return inst.(sdk.Transform)
}

func validator(t testing.TB, reg *core.Registry, name string) sdk.Validator {
	t.Helper()
	e, ok := reg.Lookup(sdk.KindValidator, name)
	require.True(t, ok, name)
	return e.New().(sdk.Validator)
}

func TestTransformsAndValidators(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{}, "basic", "leads")
	tests := []struct {
		name     string
		call     func(ctx context.Context) (any, error)
		want     any
		wantCode string
		wantErr  string
	}{
		{
			name: "transform",
			call: func(ctx context.Context) (any, error) { return transform(t, reg, "upper", "").Transform(ctx, "héllo") },
			want: "HÉLLO",
		},
		{
			name: "transform with config",
			call: func(ctx context.Context) (any, error) {
				return transform(t, reg, "tag", `{"tag":"vip"}`).Transform(ctx, map[string]any{"id": 1.0})
			},
			want: map[string]any{"id": 1.0, "tag": "vip"},
		},
		{
			name:     "transform refusing its input",
			call:     func(ctx context.Context) (any, error) { return transform(t, reg, "tag", `{}`).Transform(ctx, "x") },
			wantCode: sdk.CodeInvalidInput,
			wantErr:  "want an object",
		},
		{
			name:     "input that does not decode",
			call:     func(ctx context.Context) (any, error) { return transform(t, reg, "upper", "").Transform(ctx, 42.0) },
			wantCode: sdk.CodeInvalidInput,
		},
		{
			name: "validator accepting",
			call: func(ctx context.Context) (any, error) {
				return nil, validator(t, reg, "nonempty").Validate(ctx, map[string]any{"name": "x"})
			},
		},
		{
			name: "validator rejecting",
			call: func(ctx context.Context) (any, error) {
				return nil, validator(t, reg, "nonempty").Validate(ctx, map[string]any{})
			},
			wantCode: sdk.CodeValidationFailed,
			wantErr:  "name: is required",
		},
		{
			name: "example normalize_lead",
			call: func(ctx context.Context) (any, error) {
				return transform(t, reg, "normalize_lead", "").Transform(ctx, map[string]any{
					"email": "  Ada.Lovelace@Example.COM ", "firstName": "ada", "lastName": "LOVELACE",
					"phone": "+44 (20) 7946-0018", "company": " Analytical   Engines ", "country": "gb"})
			},
			want: map[string]any{"email": "ada.lovelace@example.com", "domain": "example.com", "fullName": "Ada Lovelace",
				"phone": "+442079460018", "company": "Analytical Engines", "country": "GB"},
		},
		{
			name: "example reject_disposable_email rejecting",
			call: func(ctx context.Context) (any, error) {
				return nil, validator(t, reg, "reject_disposable_email").Validate(ctx, "joe@Mailinator.com")
			},
			wantCode: sdk.CodeValidationFailed,
			wantErr:  "mailinator.com is a disposable e-mail domain",
		},
		{
			name: "example reject_disposable_email accepting",
			call: func(ctx context.Context) (any, error) {
				return nil, validator(t, reg, "reject_disposable_email").Validate(ctx, "joe@example.com")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.call(t.Context())
			if tt.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantCode, sdk.ErrorCode(err), "%v", err)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidatorRejectionIsValidationError(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{}, "basic")
	err := validator(t, reg, "nonempty").Validate(t.Context(), map[string]any{"name": ""})
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "%T", err)
	require.Equal(t, []sdk.Problem{{Path: "name", Message: "is required"}}, ve.Problems)
}

// TestSandbox runs misbehaving guests: each is stopped or refused, and the
// runtime keeps serving correct answers afterwards, from the same module too.
func TestSandbox(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MaxOutputBytes: 1 << 20, MemoryLimitPages: 512}, "basic", "hostile")
	tests := []struct {
		name     string
		fn       string
		in       any
		timeout  time.Duration
		wantCode string
		wantErr  string
		check    func(t *testing.T, out any)
	}{
		{name: "infinite loop stopped at its deadline", fn: "loop", in: 1.0, timeout: 100 * time.Millisecond, wantCode: sdk.CodeTimeout},
		{name: "memory grown past the cap", fn: "hog", in: 64.0, wantCode: wasm.CodeTrap, wantErr: "out of memory"},
		{name: "memory within the cap", fn: "hog", in: 8.0, check: func(t *testing.T, out any) { require.Equal(t, 8.0, out) }},
		{name: "file system absent", fn: "readfile", in: "/etc/passwd", wantCode: sdk.CodeStepFailed, wantErr: "/etc/passwd"},
		{name: "relative file absent", fn: "readfile", in: "go.mod", wantCode: sdk.CodeStepFailed, wantErr: "go.mod"},
		{name: "environment empty", fn: "env", in: nil, check: func(t *testing.T, out any) { require.Empty(t, out) }},
		{name: "oversized output refused", fn: "big", in: float64(2 << 20), wantCode: sdk.CodeResponseTooLarge, wantErr: "1048576-byte cap"},
		{name: "output under the cap", fn: "big", in: float64(1000), check: func(t *testing.T, out any) { require.Len(t, out, 1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			start := time.Now() // before the deadline is set: it cannot come sooner
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			out, err := callGuarded(t, transform(t, reg, tt.fn, ""), ctx, tt.in)
			if tt.timeout > 0 {
				require.GreaterOrEqual(t, time.Since(start), tt.timeout, "not stopped before its deadline")
			}
			if tt.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantCode, sdk.ErrorCode(err), "%v", err)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
				}
			} else {
				require.NoError(t, err)
				tt.check(t, out)
			}
			// The runtime is healthy afterwards: this module and another answer.
			out, err = transform(t, reg, "big", "").Transform(t.Context(), 3.0)
			require.NoError(t, err)
			require.Equal(t, "xxx", out)
			out, err = transform(t, reg, "upper", "").Transform(t.Context(), "ok")
			require.NoError(t, err)
			require.Equal(t, "OK", out)
		})
	}
}

// TestLoopDoesNotStallHost: while a guest loops, the host keeps collecting
// garbage and other calls keep being served. The loop runs until they are
// done, however long that takes, and is cancelled then.
func TestLoopDoesNotStallHost(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MaxInstances: 4}, "basic", "hostile")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := transform(t, reg, "loop", "").Transform(ctx, 0.0)
		done <- err
	}()
	served := make(chan error, 1)
	go func() {
		for i := range 20 {
			runtime.GC()
			out, err := transform(t, reg, "upper", "").Transform(t.Context(), fmt.Sprint("x", i))
			if err == nil && out != fmt.Sprint("X", i) {
				err = fmt.Errorf("call %d: got %v", i, out)
			}
			if err != nil {
				served <- err
				return
			}
		}
		served <- nil
	}()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatalf("the host stalled while a guest looped: 20 calls not served in %v", hangGuard)
	}
	select {
	case err := <-done:
		t.Fatalf("the looping guest ended before it was cancelled: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		require.Equal(t, sdk.CodeCancelled, sdk.ErrorCode(err), "%v", err)
	case <-time.After(hangGuard):
		t.Fatal("looping guest was not stopped")
	}
}

// TestConcurrentCallsAreIsolated makes 1,000 concurrent calls through a pool
// of a few instances, each with its own input and config.
func TestConcurrentCallsAreIsolated(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MaxInstances: 8}, "basic")
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			tag := fmt.Sprintf("tag-%d", i)
			in := map[string]any{"i": float64(i), "pad": strings.Repeat("p", i%97)}
			out, err := transform(t, reg, "tag", fmt.Sprintf(`{"tag":%q}`, tag)).Transform(context.Background(), in)
			if err != nil {
				errs <- err
				return
			}
			want := map[string]any{"i": float64(i), "pad": strings.Repeat("p", i%97), "tag": tag}
			if fmt.Sprint(out) != fmt.Sprint(want) {
				errs <- fmt.Errorf("call %d: got %v, want %v", i, out, want)
				return
			}
			s := fmt.Sprintf("call-%d", i)
			up, err := transform(t, reg, "upper", "").Transform(context.Background(), s)
			if err != nil {
				errs <- err
				return
			}
			if up != strings.ToUpper(s) {
				errs <- fmt.Errorf("call %d: got %v", i, up)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestCallWaitsForAnInstanceUntilItsDeadline: with the only instance held
// by a looping call, another call waits for it until its own deadline and
// ends with TIMEOUT; once the loop is stopped, its slot serves again.
func TestCallWaitsForAnInstanceUntilItsDeadline(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MaxInstances: 1}, "hostile")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	looped := make(chan error, 1)
	go func() {
		_, err := transform(t, reg, "loop", "").Transform(ctx, 0.0)
		looped <- err
	}()
	// Until the loop holds the instance, a short call may take it first and
	// answer; once it does, every short call waits out its deadline.
	for deadline := time.Now().Add(hangGuard); ; {
		short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
		out, err := transform(t, reg, "big", "").Transform(short, 1.0)
		cancelShort()
		if sdk.ErrorCode(err) == sdk.CodeTimeout {
			break
		}
		require.NoError(t, err)
		require.Equal(t, "x", out)
		require.True(t, time.Now().Before(deadline), "the looping call never took the instance")
	}
	select {
	case err := <-looped:
		t.Fatalf("the looping call ended before it was cancelled: %v", err)
	default:
	}
	// Once the loop is stopped, its slot is freed for a new instance.
	cancel()
	out, err := callGuarded(t, transform(t, reg, "big", ""), t.Context(), 2.0)
	require.NoError(t, err)
	require.Equal(t, "xx", out)
}

// TestManyCallsDoNotGrowMemory: one instance under a 16 MiB cap serves calls
// that allocate far more than that in total. (The guest helper yields after
// each call so that the guest's garbage collector finishes its cycles; without
// it an instance ran out of memory after about 7,500 such calls, which is too
// slow to repeat here; BenchmarkNormalizeLeads at -benchtime 200x shows it.)
func TestManyCallsDoNotGrowMemory(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MemoryLimitPages: 256, MaxInstances: 1}, "basic")
	tr := transform(t, reg, "upper", "")
	in := strings.Repeat("a", 10000)
	for i := range 500 {
		out, err := tr.Transform(t.Context(), in)
		require.NoError(t, err, "call %d", i)
		require.Len(t, out, len(in))
	}
}
