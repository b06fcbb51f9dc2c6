package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weftworks/weft/server"
)

// The OpenAPI document (server/openapi.json, written by hand) and the route
// table must agree: every route documented, nothing documented that is not
// a route. These tests say which route is missing or extra.

const openAPIFile = "openapi.json"

// oaMethods are the operation fields of an OpenAPI Path Item.
var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaRoles maps a route's permission to the role its operation states in
// x-weft-role (and its description).
var oaRoles = map[string]string{
	"public": "public",
	"read":   "viewer",
	"run":    "operator",
	"author": "editor",
	"admin":  "admin",
}

// oaOperation is one documented operation, reached from a path (perhaps
// through the path's $ref).
type oaOperation struct {
	method, path string // as documented: GET, /api/v1/workflows/{id}
	alias        string // the $ref the path item is, if it is one
	op           map[string]any
}

func (o oaOperation) String() string {
	id, _ := o.op["operationId"].(string)
	return fmt.Sprintf("%s %s (operationId %q)", o.method, o.path, id)
}

// oaPathParam matches a path parameter: {id}, {serviceId}, {rest...}.
var oaPathParam = regexp.MustCompile(`\{[^}]*\}`)

// oaKey is how routes and operations are matched: the method and the path
// with its parameters unnamed, since their names may differ.
func oaKey(method, path string) string {
	return strings.ToUpper(method) + " " + oaPathParam.ReplaceAllString(path, "{}")
}

func loadOpenAPI(t *testing.T) ([]byte, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s is not JSON: %v", openAPIFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the document", openAPIFile)
	}
	return raw, doc
}

// oaResolve follows a local reference ("#/components/schemas/Workflow",
// "#/paths/~1api~1v1~1workflows") to what it names.
func oaResolve(doc map[string]any, ref string) (any, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("%q is not a reference within the document", ref)
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", ref, err)
	}
	var node any = doc
	if frag == "" {
		return node, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("%q is not a JSON pointer", ref)
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			next, ok := n[tok]
			if !ok {
				return nil, fmt.Errorf("%q: no %q", ref, tok)
			}
			node = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, fmt.Errorf("%q: no index %q", ref, tok)
			}
			node = n[i]
		default:
			return nil, fmt.Errorf("%q: %q is inside a scalar", ref, tok)
		}
	}
	return node, nil
}

// oaDeref returns a map, following it if it is a {"$ref": …}.
func oaDeref(doc map[string]any, node any) (map[string]any, error) {
	for range 10 {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected an object, got %T", node)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		next, err := oaResolve(doc, ref)
		if err != nil {
			return nil, err
		}
		node = next
	}
	return nil, fmt.Errorf("a chain of more than 10 references")
}

// oaOperations lists the documented operations by oaKey, resolving path
// items that are references.
func oaOperations(t *testing.T, doc map[string]any) map[string]oaOperation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths", openAPIFile)
	}
	ops := map[string]oaOperation{}
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item, err := oaDeref(doc, paths[path])
		if err != nil {
			t.Errorf("paths[%s]: %v", path, err)
			continue
		}
		alias, _ := paths[path].(map[string]any)["$ref"].(string)
		for _, m := range oaMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			o := oaOperation{method: strings.ToUpper(m), path: path, alias: alias, op: op}
			key := oaKey(m, path)
			if prev, dup := ops[key]; dup {
				t.Errorf("%s and %s are the same route", prev, o)
			}
			ops[key] = o
		}
	}
	return ops
}

// TestOpenAPI checks server/openapi.json against the route table, checks
// its structure, and that the server serves it.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, filepath.Join(t.TempDir(), "weft.db"))
	raw, doc := loadOpenAPI(t)
	ops := oaOperations(t, doc)
	routes := map[string]server.Endpoint{}
	for _, ep := range e.srv.Endpoints() {
		routes[oaKey(ep.Method, ep.Path)] = ep
	}

	t.Run("every route is documented", func(t *testing.T) {
		for _, ep := range e.srv.Endpoints() {
			if _, ok := ops[oaKey(ep.Method, ep.Path)]; !ok {
				t.Errorf("route %s %s (permission %s) is missing from server/%s: document it under paths[%q].%s",
					ep.Method, ep.Path, ep.Permission, openAPIFile, ep.Path, strings.ToLower(ep.Method))
			}
		}
	})

	t.Run("every documented operation is a route", func(t *testing.T) {
		for _, key := range slices.Sorted(maps.Keys(ops)) {
			if _, ok := routes[key]; !ok {
				o := ops[key]
				via := ""
				if o.alias != "" {
					via = " through $ref " + o.alias
				}
				t.Errorf("server/%s documents %s%s, but the server has no such route (server/routes.go)", openAPIFile, o, via)
			}
		}
	})

	t.Run("structure", func(t *testing.T) {
		if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
			t.Errorf("openapi is %q, want 3.1.x", v)
		}
		info, _ := doc["info"].(map[string]any)
		if title, _ := info["title"].(string); title == "" {
			t.Error("info.title is missing")
		}
		if version, _ := info["version"].(string); version == "" {
			t.Error("info.version is missing")
		}
		ids := map[string]string{}
		paths := doc["paths"].(map[string]any)
		for _, path := range slices.Sorted(maps.Keys(paths)) {
			item, ok := paths[path].(map[string]any)
			if !ok || item["$ref"] != nil {
				continue // references are checked where they lead
			}
			for _, m := range oaMethods {
				op, ok := item[m].(map[string]any)
				if !ok {
					continue
				}
				where := strings.ToUpper(m) + " " + path
				id, _ := op["operationId"].(string)
				switch {
				case id == "":
					t.Errorf("%s has no operationId", where)
				case ids[id] != "":
					t.Errorf("%s and %s have the same operationId %q", ids[id], where, id)
				default:
					ids[id] = where
				}
				if s, _ := op["summary"].(string); s == "" {
					t.Errorf("%s has no summary", where)
				}
				if tags, _ := op["tags"].([]any); len(tags) == 0 {
					t.Errorf("%s has no tags", where)
				}
				if rs, _ := op["responses"].(map[string]any); len(rs) == 0 {
					t.Errorf("%s has no responses", where)
				}
				checkPathParams(t, doc, where, path, item, op)
				checkErrorResponses(t, doc, where, op)
			}
		}
	})

	t.Run("every $ref resolves", func(t *testing.T) {
		var walk func(at string, node any)
		walk = func(at string, node any) {
			switch n := node.(type) {
			case map[string]any:
				if ref, ok := n["$ref"].(string); ok {
					if _, err := oaResolve(doc, ref); err != nil {
						t.Errorf("%s: $ref %v", at, err)
					}
				}
				for _, k := range slices.Sorted(maps.Keys(n)) {
					walk(at+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), n[k])
				}
			case []any:
				for i, c := range n {
					walk(fmt.Sprintf("%s/%d", at, i), c)
				}
			}
		}
		walk("#", doc)
	})

	t.Run("security and roles", func(t *testing.T) {
		schemes, _ := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
		global, _ := doc["security"].([]any)
		if len(global) == 0 {
			t.Error("no global security: the API needs a key but where it is said")
		}
		for _, req := range global {
			for name := range req.(map[string]any) {
				if _, ok := schemes[name]; !ok {
					t.Errorf("security names %q, which components.securitySchemes does not define", name)
				}
			}
		}
		for _, ep := range e.srv.Endpoints() {
			o, ok := ops[oaKey(ep.Method, ep.Path)]
			if !ok {
				continue // reported above
			}
			sec, has := o.op["security"]
			if ep.Permission == "public" {
				if list, ok := sec.([]any); !has || !ok || len(list) != 0 {
					t.Errorf("%s %s is public: its operation %s needs \"security\": []", ep.Method, ep.Path, o)
				}
			} else if has {
				t.Errorf("%s %s needs a key (permission %s): its operation %s must not override the global security", ep.Method, ep.Path, ep.Permission, o)
			}
			want := oaRoles[ep.Permission]
			if got, _ := o.op["x-weft-role"].(string); got != want {
				t.Errorf("%s %s (permission %s): %s has x-weft-role %q, want %q", ep.Method, ep.Path, ep.Permission, o, got, want)
			}
			mention := "Role: " + want
			if want == "public" {
				mention = "Role: none (public)"
			}
			if desc, _ := o.op["description"].(string); !strings.HasPrefix(desc, mention) {
				t.Errorf("%s %s: the description of %s should start with %q", ep.Method, ep.Path, o, mention)
			}
			rs, _ := o.op["responses"].(map[string]any)
			_, has401 := rs["401"]
			_, has403 := rs["403"]
			switch {
			case ep.Permission == "public" && (has401 || has403):
				t.Errorf("%s %s is public: %s cannot answer 401 or 403", ep.Method, ep.Path, o)
			case ep.Permission != "public" && !has401:
				t.Errorf("%s %s needs a key: %s should document 401", ep.Method, ep.Path, o)
			case ep.Permission == "read" && has403:
				t.Errorf("%s %s: every role may read, so %s cannot answer 403", ep.Method, ep.Path, o)
			case ep.Permission != "public" && ep.Permission != "read" && !has403:
				t.Errorf("%s %s needs %s: %s should document 403", ep.Method, ep.Path, want, o)
			}
		}
	})

	t.Run("served", func(t *testing.T) {
		res, err := http.Get(e.url + "/api/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /api/v1/openapi.json without a key: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !bytes.Equal(body, raw) {
			t.Fatalf("GET /api/v1/openapi.json is not server/%s (%d bytes, want %d)", openAPIFile, len(body), len(raw))
		}
		if status, _, _ := e.call("GET", "/api/v1/orchestration/openapi.json", e.keys[server.RoleAdmin], nil); status != http.StatusNotFound {
			t.Errorf("GET /api/v1/orchestration/openapi.json: %d, want 404 (the document is not aliased)", status)
		}
	})
}

// checkPathParams checks that an operation declares each parameter of its
// path template, as a required path parameter, and no other.
func checkPathParams(t *testing.T, doc map[string]any, where, path string, item, op map[string]any) {
	t.Helper()
	declared := map[string]bool{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		params, _ := list.([]any)
		for _, p := range params {
			param, err := oaDeref(doc, p)
			if err != nil {
				t.Errorf("%s: parameter: %v", where, err)
				continue
			}
			name, _ := param["name"].(string)
			if param["in"] != "path" {
				continue
			}
			if param["required"] != true {
				t.Errorf("%s: path parameter %q must be required", where, name)
			}
			declared[name] = true
		}
	}
	for _, m := range oaPathParam.FindAllString(path, -1) {
		name := strings.Trim(m, "{}")
		if !declared[name] {
			t.Errorf("%s: path parameter %q is not declared", where, name)
		}
		delete(declared, name)
	}
	for name := range declared {
		t.Errorf("%s: declares path parameter %q, which is not in the path", where, name)
	}
}

// checkErrorResponses checks that client errors are the shared responses
// with the Error shape, and that an operation with a body documents the
// answers to a body too large or not JSON.
func checkErrorResponses(t *testing.T, doc map[string]any, where string, op map[string]any) {
	t.Helper()
	rs, _ := op["responses"].(map[string]any)
	for _, code := range []string{"400", "401", "403", "404", "409", "413", "415"} {
		r, ok := rs[code].(map[string]any)
		if !ok {
			continue
		}
		ref, _ := r["$ref"].(string)
		if !strings.HasPrefix(ref, "#/components/responses/") {
			t.Errorf("%s: response %s should be a $ref to a shared response in #/components/responses", where, code)
			continue
		}
		resp, err := oaDeref(doc, r)
		if err != nil {
			t.Errorf("%s: response %s: %v", where, code, err)
			continue
		}
		content, _ := resp["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		schema, _ := media["schema"].(map[string]any)
		if schema["$ref"] != "#/components/schemas/Error" {
			t.Errorf("%s: response %s (%s) should have the Error schema", where, code, ref)
		}
	}
	if op["requestBody"] != nil {
		for _, code := range []string{"413", "415"} {
			if _, ok := rs[code]; !ok {
				t.Errorf("%s takes a body: it should document %s", where, code)
			}
		}
	}
}
