package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
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
	if err := json.Unmarshal([]byte(value), &x); err != nil {
		x = value
	}
	(*v)[name] = x
	return nil
}

// definitionFile is a workflow file read for sending to a server.
type definitionFile struct {
	name        string // the workflow's name
	body        []byte
	contentType string
}

// readDefinition reads a workflow file (JSON or YAML), finds its name, and
// sets vars in its variables. The file goes to the server as it is, so that
// the server's problems point at its lines; with vars it is sent as JSON
// re-encoded from the file, and its problems point at no line.
func readDefinition(file string, vars varFlags) (*definitionFile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	isJSON := bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\ufeff"), []byte("{"))
	if isJSON {
		err = json.Unmarshal(data, &doc)
	} else {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil || doc == nil {
		// The server says what is wrong, and where.
		return &definitionFile{body: data, contentType: contentTypeOf(isJSON)}, nil
	}
	name, _ := doc["name"].(string)
	if len(vars) == 0 {
		return &definitionFile{name: name, body: data, contentType: contentTypeOf(isJSON)}, nil
	}
	if err := setVariables(doc, vars); err != nil {
		return nil, err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("--var: %w", err)
	}
	return &definitionFile{name: name, body: body, contentType: "application/json"}, nil
}

// setVariables sets vars in a decoded definition's variables.
func setVariables(doc map[string]any, vars varFlags) error {
	variables, ok := doc["variables"].(map[string]any)
	if !ok {
		if doc["variables"] != nil {
			return fmt.Errorf("--var: the definition's variables is not an object")
		}
		variables = map[string]any{}
		doc["variables"] = variables
	}
	for k, v := range vars {
		variables[k] = v
	}
	return nil
}

// withVariables returns a definition (JSON or YAML) with vars set in its
// variables, as JSON: weft serve --load --var uses it.
func withVariables(data []byte, vars varFlags) ([]byte, error) {
	if len(vars) == 0 {
		return data, nil
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil { // YAML is a superset of JSON
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("the definition is empty")
	}
	if err := setVariables(doc, vars); err != nil {
		return nil, err
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
			switch res.Action {
			case "updated":
				fmt.Fprintf(c.stdout, "%s: updated workflow %s (%s): version %d → %d\n", file, res.ID, res.Name, res.OldVersion, res.Version)
			default:
				fmt.Fprintf(c.stdout, "%s: %s workflow %s (%s): version %d\n", file, res.Action, res.ID, res.Name, res.Version)
			}
		}
	}
	if cf.json {
		_ = printJSON(c.stdout, map[string]any{"items": results})
	}
	return code
}

// apply creates the workflow of a file, or updates the one workflow of its
// name; an update that changes nothing makes no new version.
func (c *apiClient) apply(ctx context.Context, file string, vars varFlags) (*applyResult, error) {
	def, err := readDefinition(file, vars)
	if err != nil {
		return nil, err
	}
	var existing []json.RawMessage
	if def.name != "" {
		if existing, err = listAll[json.RawMessage](ctx, c, "/api/v1/workflows", url.Values{"name": {def.name}}, 0); err != nil {
			return nil, err
		}
	}
	var info core.WorkflowInfo
	switch len(existing) {
	case 0:
		if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/workflows", body: def.body, contentType: def.contentType}, &info); err != nil {
			return nil, err
		}
		return &applyResult{File: file, ID: info.ID, Name: info.Name, Version: info.Version, Action: "created"}, nil
	case 1:
	default:
		return nil, ambiguousName(def.name, existing)
	}
	var old core.WorkflowInfo
	if err := json.Unmarshal(existing[0], &old); err != nil {
		return nil, err
	}
	// If-Match: a change made by someone else since the listing is a 409,
	// not overwritten.
	_, err = c.do(ctx, request{method: http.MethodPut, path: "/api/v1/workflows/" + url.PathEscape(old.ID), body: def.body, contentType: def.contentType,
		header: http.Header{"If-Match": {`"` + strconv.Itoa(old.Version) + `"`}}}, &info)
	if err != nil {
		return nil, err
	}
	res := &applyResult{File: file, ID: info.ID, Name: info.Name, Version: info.Version, Action: "unchanged"}
	if info.Version != old.Version {
		res.Action, res.OldVersion = "updated", old.Version
	}
	return res, nil
}
