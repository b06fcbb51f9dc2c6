package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// A compiled-in step written as a function. Its rendered config is decoded
// strictly into the function's input type; a program would make it available
// to workflows with sdk.Register(greet) in an init function.
func Example_step() {
	type config struct {
		Recipient string `json:"recipient"`
		Excited   bool   `json:"excited"`
	}
	greet := sdk.NewStep("example.greet", func(ctx context.Context, c config) (string, error) {
		if c.Excited {
			return "Hello, " + c.Recipient + "!", nil
		}
		return "Hello, " + c.Recipient + ".", nil
	}, sdk.WithSummary("Greets someone."))

	// The engine calls every step through the sdk.Step interface.
	step := greet.(sdk.Step)
	out, err := step.Run(context.Background(), sdk.Input{
		Config: map[string]any{"recipient": "Ada", "excited": true},
		Run:    sdk.RunInfo{StepID: "greet", Attempt: 1},
	})
	fmt.Println(out.Data, err)

	_, err = step.Run(context.Background(), sdk.Input{Config: map[string]any{"recipeint": "Ada"}})
	fmt.Println(err)
	// Output:
	// Hello, Ada! <nil>
	// INVALID_CONFIG: recipeint: unknown field "recipeint" (did you mean "recipient"?)
}

func ExampleNewTransform() {
	type name struct {
		First string `json:"first"`
		Last  string `json:"last"`
	}
	sortName := sdk.NewTransform("example.sort_name", func(ctx context.Context, n name) (string, error) {
		return n.Last + ", " + n.First, nil
	}).(sdk.Transform)

	out, err := sortName.Transform(context.Background(), map[string]any{"first": "Ada", "last": "Lovelace"})
	fmt.Println(out, err)

	_, err = sortName.Transform(context.Background(), map[string]any{"first": 1.0, "last": "Lovelace"})
	fmt.Println(err)
	// Output:
	// Lovelace, Ada <nil>
	// INVALID_INPUT: first: expected a string, got a number
}

func ExampleNewValidator() {
	type signup struct {
		Email string `json:"email"`
		Age   int    `json:"age"`
	}
	check := sdk.NewValidator("example.signup", func(ctx context.Context, s signup) error {
		var ve sdk.ValidationError
		if !strings.Contains(s.Email, "@") {
			ve.Add("email", "must be an email address")
		}
		if s.Age < 18 {
			ve.Add("age", "must be at least 18, got %d", s.Age)
		}
		return ve.Err()
	}).(sdk.Validator)

	err := check.Validate(context.Background(), map[string]any{"email": "ada", "age": 12.0})
	fmt.Println(err)
	// Output:
	// 2 problems:
	//   email: must be an email address
	//   age: must be at least 18, got 12
}

func ExampleDecodeValue() {
	type config struct {
		URL     string            `json:"url"`
		Retries int               `json:"retries"`
		Timeout string            `json:"timeout"`
		Headers map[string]string `json:"headers"`
	}
	var c config
	err := sdk.DecodeValue(map[string]any{
		"url":     42.0,
		"retries": 1.5,
		"timeuot": "5s",
		"headers": map[string]any{"x.trace": true},
	}, &c)

	var ve *sdk.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// headers["x.trace"]: expected a string, got a boolean
	// retries: expected an integer, got 1.5
	// timeuot: unknown field "timeuot" (did you mean "timeout"?)
	// url: expected a string, got a number
}

func ExampleError() {
	err := fmt.Errorf("charging card: %w",
		sdk.RetryableErrorf(sdk.HTTPStatusCode(503), "payment API unavailable"))

	e := sdk.AsError(err)
	fmt.Println(e.Code, e.Retryable)
	fmt.Println(sdk.IsRetryable(err), sdk.IsRetryable(sdk.Permanent(err)))
	fmt.Println(sdk.ErrorCode(context.DeadlineExceeded), sdk.IsRetryable(context.DeadlineExceeded))
	// Output:
	// HTTP_503 true
	// true false
	// TIMEOUT true
}
