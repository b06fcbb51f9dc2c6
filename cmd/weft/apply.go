package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/weftworks/weft/core"
)

// varFlags is the repeatable --var NAME=VALUE: a workflow variable's value
// set in the definition before it is stored. VALUE is read as JSON when it
// is JSON (60, true, {"a":1}), else as a string (http://127.0.0.1:9100).
type varFlags map[string]any

func (v *varFlags) String() string { return "" }

func (v *varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if name = strings.TrimSpace(name); !ok || name == "" {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	if *v == nil {
		*v = varFlags{}
	}
	var x any
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil || dec.More() {
		x = value
	}
	(*v)[name] = x
	return nil
}

// definitionFile is a workflow file read for sending to a server.
type definitionFile struct {
	body        []byte
	contentType string
}

// utf8BOM starts some files written on Windows; it is no part of the
// definition.
var utf8BOM = []byte("\ufeff")

// readDefinition reads a workflow file (JSON or YAML) and sets vars in its
// variables. The file goes to the server as it is, so that the server's
// problems point at its lines; with vars it is sent as JSON re-encoded from
// the file, and its problems point at no line.
func readDefinition(file string, vars varFlags) (*definitionFile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(vars) == 0 {
		return &definitionFile{body: data, contentType: contentTypeOf(isJSONDocument(data))}, nil
	}
	body, err := withVariables(data, vars)
	if err != nil {
		return nil, fmt.Errorf("--var: %w", err)
	}
	return &definitionFile{body: body, contentType: "application/json"}, nil
}

// isJSONDocument tells a JSON definition from a YAML one as the server does:
// JSON starts with {.
func isJSONDocument(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
}

// withVariables returns a definition (JSON or YAML) with vars set in its
// variables, as JSON. Numbers keep every digit (a JSON document is decoded
// with json.Number, not float64). weft workflows apply --var and weft serve
// --var use it.
func withVariables(data []byte, vars varFlags) ([]byte, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(vars) == 0 {
		return data, nil
	}
	var doc map[string]any
	if isJSONDocument(data) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("the definition is not valid JSON: %v (weft validate shows where)", err)
		}
	} else if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the definition is not valid YAML: %v (weft validate shows where)", err)
	}
	if doc == nil {
		return nil, errors.New("the definition is empty")
	}
	variables, ok := doc["variables"].(map[string]any)
	if !ok {
		if doc["variables"] != nil {
			return nil, errors.New("the definition's variables is not an object")
		}
		variables = map[string]any{}
		doc["variables"] = variables
	}
	for k, v := range vars {
		variables[k] = v
	}
	return json.Marshal(doc)
}

func contentTypeOf(isJSON bool) string {
	if isJSON {
		return "application/json"
	}
	return "application/yaml"
}

// applyResult is what apply did with one file.
type applyResult struct {
	File       string `json:"file"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Version    int    `json:"version"`
	OldVersion int    `json:"previousVersion,omitempty"`
	// Action is created, updated or unchanged.
	Action string `json:"action"`
}

func (c cli) workflowsApply(ctx context.Context, args []string) int {
	var vars varFlags
	client, cf, files, code := c.clientCommand("workflows apply", "workflows apply FILE… [--var NAME=VALUE]… [flags]", args, 1, -1, func(fs *flag.FlagSet) {
		fs.Var(&vars, "var", "set a workflow variable, NAME=VALUE (VALUE as JSON when it parses, else a string; repeatable)")
	})
	if code >= 0 {
		return code
	}
	code = exitOK
	var results []applyResult
	for _, file := range files {
		res, err := client.apply(ctx, file, vars)
		if err != nil {
			var re *remoteError
			if errors.As(err, &re) && re.Code == "VALIDATION_FAILED" && len(re.Details) > 0 {
				printProblems(c.stderr, file, re.Details)
				code = max(code, exitFailed)
				continue
			}
			fmt.Fprintf(c.stderr, "weft workflows apply: %s: %v\n", file, err)
			code = max(code, exitCode(err))
			if exitCode(err) == exitUnreachable || exitCode(err) == exitAuth {
				return code // the other files would meet the same
			}
			continue
		}
		results = append(results, *res)
		if !cf.json {
			id, name := printable(res.ID), printable(res.Name)
			switch res.Action {
			case core.ApplyUpdated:
				fmt.Fprintf(c.stdout, "%s: updated workflow %s (%s): version %d → %d\n", file, id, name, res.OldVersion, res.Version)
			default:
				fmt.Fprintf(c.stdout, "%s: %s workflow %s (%s): version %d\n", file, printable(res.Action), id, name, res.Version)
			}
		}
	}
	if cf.json {
		_ = printJSON(c.stdout, map[string]any{"items": results})
	}
	return code
}

// apply creates the workflow of a file, or updates the one workflow of its
// name (POST /api/v1/workflows/apply: one transaction on the server, so
// applies at once never make two workflows); an update that changes
// nothing makes no new version.
func (c *apiClient) apply(ctx context.Context, file string, vars varFlags) (*applyResult, error) {
	def, err := readDefinition(file, vars)
	if err != nil {
		return nil, err
	}
	var res core.ApplyResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/workflows/apply", body: def.body, contentType: def.contentType}, &res); err != nil {
		return nil, err
	}
	if res.Workflow == nil || res.Workflow.Workflow == nil {
		return nil, &remoteError{Status: http.StatusOK, Message: "POST /api/v1/workflows/apply: the answer has no workflow"}
	}
	return &applyResult{File: file, ID: res.Workflow.ID, Name: res.Workflow.Name, Version: res.Workflow.Version,
		OldVersion: res.PreviousVersion, Action: res.Action}, nil
}
