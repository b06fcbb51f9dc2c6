package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/scripting/library"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
	abi "github.com/weftworks/weft/sdk/wasm"
	"github.com/weftworks/weft/server"
)

// Test WASM guests, built once per test binary with GOOS=wasip1, and a
// compilation cache the servers share.
var (
	guestOnce sync.Once
	guestDir  string
	guestErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if guestDir != "" {
		_ = os.RemoveAll(guestDir)
	}
	os.Exit(code)
}

// guest returns the code of a test guest: "leads" (examples/wasm/leads)
// or "noabi" (valid WASM without ABI weft_v2).
func guest(t *testing.T, name string) []byte {
	t.Helper()
	guestOnce.Do(func() {
		if guestDir, guestErr = os.MkdirTemp("", "weft-server-wasm-"); guestErr != nil {
			return
		}
		for name, pkg := range map[string]string{"leads": "../examples/wasm/leads", "noabi": "../scripting/wasm/testdata/noabi"} {
			if guestErr = wasmtest.Build(pkg, filepath.Join(guestDir, name+".wasm")); guestErr != nil {
				return
			}
		}
	})
	require.NoError(t, guestErr)
	b, err := os.ReadFile(filepath.Join(guestDir, name+".wasm"))
	require.NoError(t, err)
	return b
}

// scripts adds LUA, WASM (no modules directory) and the stored rules and
// modules of d to reg, as weft serve does.
func (e *env) scripts(reg *core.Registry, d *db.DB) {
	t := e.t
	luaRT, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	wasmRT, err := wasm.Load(context.Background(), wasm.Options{CacheDir: wasmtest.CacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = wasmRT.Close(context.Background()) })
	require.NoError(t, wasmRT.Register(reg))
	e.lib, err = library.New(library.Options{Store: d.Store(), Registry: reg, Lua: luaRT, WASM: wasmRT})
	require.NoError(t, err)
	require.NoError(t, e.lib.Sync(context.Background()))
	e.reg = reg
}

// upload sends a module's bytes as POST /api/v1/modules?name=….
func (e *env) upload(key, query string, bin []byte) (int, map[string]any) {
	e.t.Helper()
	status, _, body := e.call("POST", "/api/v1/modules?"+query, key, bin, "Content-Type", "application/wasm")
	return status, body
}

func problems(body map[string]any) []map[string]any {
	e, _ := body["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	var out []map[string]any
	for _, d := range ds {
		out = append(out, d.(map[string]any))
	}
	return out
}

func message(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// ruleWorkflow uses the rule score twice: as a LUA step and as a
// DATA_TRANSFORM transform (with its own config).
const ruleWorkflow = `{"name": "rules", "steps": [
  {"id": "lua", "type": "LUA", "config": {"rule": "score"}},
  {"id": "shape", "type": "DATA_TRANSFORM", "config": {"source": "{{input}}", "operations": [
    {"type": "transform", "name": "score", "config": {"tag": "op"}}]}}],
  "output": {"lua": "{{steps.lua.output}}", "shape": "{{steps.shape.output}}"}}`

func TestTransformationRules(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			ed, viewer := e.keys[server.RoleEditor], e.keys[server.RoleViewer]

			rule := map[string]any{"name": "score", "description": "doubles a", "source": "return {score = input.a * 2, tag = ctx.config.tag}",
				"config": map[string]any{"tag": "rule"}}
			status, hdr, got := e.call("POST", "/api/v1/transformation-rules", viewer, rule)
			require.Equal(t, http.StatusForbidden, status, "a viewer may not write rules")
			status, hdr, got = e.call("POST", "/api/v1/transformation-rules", ed, rule)
			require.Equal(t, http.StatusCreated, status, "%v", got)
			require.Equal(t, `"1"`, hdr.Get("ETag"))
			require.Equal(t, "/api/v1/transformation-rules/score", hdr.Get("Location"))
			require.Equal(t, "lua", got["language"], "the default language")
			require.EqualValues(t, 1, got["version"])

			status, _, got = e.call("POST", "/api/v1/transformation-rules", ed, rule)
			require.Equal(t, http.StatusConflict, status, "%v", got)
			status, _, got = e.call("GET", "/api/v1/transformation-rules", viewer, nil)
			require.Equal(t, http.StatusOK, status)
			require.Len(t, got["items"], 1)
			status, _, got = e.call("GET", "/api/v1/transformation-rules/score", viewer, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "doubles a", got["description"])

			// A workflow using it, as a LUA step and as a transform.
			status, _, wf := e.call("POST", "/api/v1/workflows", ed, ruleWorkflow)
			require.Equal(t, http.StatusCreated, status, "%v", wf)
			run := func() map[string]any {
				status, _, x := e.call("POST", "/api/v1/workflows/"+wf["id"].(string)+"/execute?wait=2m", ed, `{"input": {"a": 21}}`)
				require.Equal(t, http.StatusOK, status, "%v", x)
				return x
			}
			x := run()
			require.Equal(t, "COMPLETED", x["status"], "%v", x)
			require.Equal(t, map[string]any{
				"lua":   map[string]any{"score": float64(42), "tag": "rule"},
				"shape": map[string]any{"score": float64(42), "tag": "op"},
			}, x["output"])

			// An edit applies to the next run of the same workflow.
			rule["source"] = "return {score = input.a * 3, tag = ctx.config.tag}"
			status, _, got = e.call("PUT", "/api/v1/transformation-rules/score", ed, rule, "If-Match", `"1"`)
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.EqualValues(t, 2, got["version"])
			x = run()
			require.Equal(t, float64(63), x["output"].(map[string]any)["lua"].(map[string]any)["score"])
			status, _, got = e.call("PUT", "/api/v1/transformation-rules/score", ed, rule, "If-Match", `"1"`)
			require.Equal(t, http.StatusConflict, status, "a stale If-Match: %v", got)

			// A syntax error: 400 with the line and column, nothing stored.
			bad := map[string]any{"name": "broken", "source": "local x = 1\nreturn {x = }"}
			status, _, got = e.call("POST", "/api/v1/transformation-rules", ed, bad)
			require.Equal(t, http.StatusBadRequest, status, "%v", got)
			require.Equal(t, server.CodeValidation, errorCode(t, got))
			ps := problems(got)
			require.Len(t, ps, 1)
			require.Equal(t, "source", ps[0]["path"])
			require.EqualValues(t, 2, ps[0]["line"])
			require.NotZero(t, ps[0]["column"])
			require.Contains(t, ps[0]["message"], "Lua syntax error")
			status, _, _ = e.call("GET", "/api/v1/transformation-rules/broken", viewer, nil)
			require.Equal(t, http.StatusNotFound, status)
			rule["source"] = "return {"
			status, _, got = e.call("PUT", "/api/v1/transformation-rules/score", ed, rule)
			require.Equal(t, http.StatusBadRequest, status, "%v", got)
			require.EqualValues(t, 1, problems(got)[0]["line"])

			// Other bad input.
			for _, c := range []struct {
				name string
				body any
				path string
			}{
				{"no name", map[string]any{"source": "return 1"}, "name"},
				{"bad name", map[string]any{"name": "no spaces", "source": "return 1"}, "name"},
				{"no source", map[string]any{"name": "empty"}, "source"},
				{"other language", map[string]any{"name": "js", "language": "javascript", "source": "1"}, "language"},
			} {
				status, _, got = e.call("POST", "/api/v1/transformation-rules", ed, c.body)
				require.Equal(t, http.StatusBadRequest, status, "%s: %v", c.name, got)
				require.Equal(t, c.path, problems(got)[0]["path"], "%s: %v", c.name, got)
			}

			// A workflow naming an unknown rule does not validate.
			unknown := strings.ReplaceAll(ruleWorkflow, `"rule": "score"`, `"rule": "nope"`)
			status, _, got = e.call("POST", "/api/v1/workflows/validate", ed, unknown)
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.Equal(t, false, got["valid"], "%v", got)
			require.Contains(t, fmt.Sprint(got), `unknown rule "nope" (stored: score)`)

			// Deleted: the workflow's next run fails with RULE_NOT_FOUND.
			status, _, _ = e.call("DELETE", "/api/v1/transformation-rules/score", ed, nil)
			require.Equal(t, http.StatusNoContent, status)
			status, _, _ = e.call("DELETE", "/api/v1/transformation-rules/score", ed, nil)
			require.Equal(t, http.StatusNotFound, status)
			x = run()
			require.Equal(t, "FAILED", x["status"])
			require.Contains(t, fmt.Sprint(x["error"]), lua.CodeRuleNotFound)
			_, ok := e.reg.Lookup(sdk.KindTransform, "score")
			require.False(t, ok)
		})
	}
}

const moduleWorkflow = `{"name": "modules", "steps": [
  {"id": "check", "type": "VALIDATION", "config": {"data": "{{input.email}}", "validator": "reject_disposable_email"}},
  {"id": "normalize", "type": "DATA_TRANSFORM", "dependsOn": ["check"], "config": {"source": "{{input}}",
   "operations": [{"type": "transform", "name": "normalize_lead"}]}}],
  "output": "{{steps.normalize.output}}"}`

func TestModules(t *testing.T) {
	t.Parallel()
	leads := guest(t, "leads")
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			admin, ed, viewer := e.keys[server.RoleAdmin], e.keys[server.RoleEditor], e.keys[server.RoleViewer]

			status, _ := e.upload(ed, "name=leads", leads)
			require.Equal(t, http.StatusForbidden, status, "uploading code is for admins")
			status, got := e.upload(admin, "name=leads", leads)
			require.Equal(t, http.StatusCreated, status, "%v", got)
			require.Len(t, got["sha256"], 64)
			require.EqualValues(t, len(leads), got["size"])
			require.Equal(t, []any{
				map[string]any{"kind": "transform", "name": "normalize_lead", "summary": "Normalises a lead: trimmed lower-case e-mail and its domain, title-cased full name, digits-only phone."},
				map[string]any{"kind": "validator", "name": "reject_disposable_email", "summary": "Rejects e-mail addresses at disposable domains."},
			}, got["components"])
			sha := got["sha256"]

			status, _, got = e.call("GET", "/api/v1/modules", viewer, nil)
			require.Equal(t, http.StatusOK, status)
			require.Len(t, got["items"], 1)
			status, hdr, got := e.call("GET", "/api/v1/modules/leads", viewer, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, sha, got["sha256"])
			require.Equal(t, `"`+sha.(string)+`"`, hdr.Get("ETag"))

			// A workflow using its transform and validator runs.
			status, _, wf := e.call("POST", "/api/v1/workflows", ed, moduleWorkflow)
			require.Equal(t, http.StatusCreated, status, "%v", wf)
			run := func(email string) map[string]any {
				status, _, x := e.call("POST", "/api/v1/workflows/"+wf["id"].(string)+"/execute?wait=2m", ed,
					map[string]any{"input": map[string]any{"email": email, "firstName": "ada", "lastName": "lovelace"}})
				require.Equal(t, http.StatusOK, status, "%v", x)
				return x
			}
			x := run(" Ada@Example.COM ")
			require.Equal(t, "COMPLETED", x["status"], "%v", x)
			require.Equal(t, "ada@example.com", x["output"].(map[string]any)["email"])
			require.Equal(t, "Ada Lovelace", x["output"].(map[string]any)["fullName"])
			x = run("x@mailinator.com")
			require.Equal(t, "FAILED", x["status"])

			// Refused modules: a clear error, nothing stored.
			for _, c := range []struct {
				name, query string
				bin         []byte
				status      int
				mention     string
			}{
				{"garbage", "name=junk", []byte("this is not a module"), 422, "not a WebAssembly binary"},
				{"truncated", "name=junk", leads[:len(leads)/3], 422, "byte offset"},
				{"no ABI", "name=noabi", guest(t, "noabi"), 422, "does not implement ABI " + abi.ABI + ": missing export " + abi.ABI + "_describe, " + abi.ABI + "_call"},
				{"exists", "name=leads", leads, 409, "replace=true"},
				{"its components are taken", "name=leads2", leads, 409, `transform "normalize_lead" comes from wasm upload:leads`},
				{"no name", "", leads, 400, "name"},
				{"bad name", "name=../x", leads, 422, "bad name"},
				{"empty", "name=empty", nil, 400, "empty"},
			} {
				status, got := e.upload(admin, c.query, c.bin)
				require.Equal(t, c.status, status, "%s: %v", c.name, got)
				require.Contains(t, message(got), c.mention, c.name)
			}
			status, _, got = e.call("POST", "/api/v1/modules?name=x", admin, `{}`)
			require.Equal(t, http.StatusUnsupportedMediaType, status, "%v", got)
			status, _, got = e.call("GET", "/api/v1/modules", viewer, nil)
			require.Equal(t, http.StatusOK, status)
			require.Len(t, got["items"], 1, "nothing stored: %v", got)

			// Replaced with the same code: 200, the same module.
			status, got = e.upload(admin, "name=leads&replace=true", leads)
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.Equal(t, sha, got["sha256"])
			require.Equal(t, "COMPLETED", run("a@b.c")["status"])

			// Deleted: gone from the list and the registry; the workflow fails.
			status, _, _ = e.call("DELETE", "/api/v1/modules/leads", ed, nil)
			require.Equal(t, http.StatusForbidden, status)
			status, _, _ = e.call("DELETE", "/api/v1/modules/leads", admin, nil)
			require.Equal(t, http.StatusNoContent, status)
			status, _, _ = e.call("GET", "/api/v1/modules/leads", viewer, nil)
			require.Equal(t, http.StatusNotFound, status)
			status, _, _ = e.call("DELETE", "/api/v1/modules/leads", admin, nil)
			require.Equal(t, http.StatusNotFound, status)
			_, ok := e.reg.Lookup(sdk.KindTransform, "normalize_lead")
			require.False(t, ok)
			x = run("a@b.c")
			require.Equal(t, "FAILED", x["status"])
			require.Contains(t, fmt.Sprint(x["error"]), wasm.CodeModuleRemoved)
			status, _, got = e.call("POST", "/api/v1/workflows/validate", ed, moduleWorkflow)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, false, got["valid"], "%v", got)
		})
	}
}

// The module size cap is separate from (and larger than) the body cap.
func TestModuleSizeLimit(t *testing.T) {
	t.Parallel()
	leads := guest(t, "leads")
	e := newEnv(t, filepath.Join(t.TempDir(), "weft.db"))
	require.Greater(t, len(leads), 1<<20, "bigger than the env's --max-body")
	small, err := server.New(server.Options{Engine: e.eng, Catalog: e.db.Store(), Keys: e.db.Store(), NoAuth: true,
		Rules: e.lib, Modules: e.lib, MaxModuleSize: 1 << 20})
	require.NoError(t, err)
	for _, c := range []struct {
		srv    http.Handler
		status int
	}{{small, http.StatusRequestEntityTooLarge}, {e.srv, http.StatusCreated}} {
		req, err := http.NewRequest("POST", "/api/v1/modules?name=leads", strings.NewReader(string(leads)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/wasm")
		req.Header.Set("Authorization", "Bearer "+e.keys[server.RoleAdmin])
		rec := httptest.NewRecorder()
		c.srv.ServeHTTP(rec, req)
		require.Equal(t, c.status, rec.Code, rec.Body.String())
	}
}

// Two instances on one database: what one stores, the other loads at its
// next sync (called here directly, as weft serve's ticker does).
func TestLibrarySyncAcrossInstances(t *testing.T) {
	t.Parallel()
	leads := guest(t, "leads")
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			shared := dsn(t)
			a, b := newEnv(t, shared), newEnv(t, shared)
			ctx := context.Background()
			ed := a.keys[server.RoleEditor]
			status, _, got := a.call("POST", "/api/v1/transformation-rules", a.keys[server.RoleEditor],
				map[string]any{"name": "score", "source": "return {score = input.a * 2}"})
			require.Equal(t, http.StatusCreated, status, "%v", got)
			status, got = a.upload(a.keys[server.RoleAdmin], "name=leads", leads)
			require.Equal(t, http.StatusCreated, status, "%v", got)

			both := `{"name": "both", "steps": [
			  {"id": "lua", "type": "LUA", "config": {"rule": "score"}},
			  {"id": "n", "type": "DATA_TRANSFORM", "config": {"source": "{{input.lead}}", "operations": [{"type": "transform", "name": "normalize_lead"}]}}],
			  "output": {"score": "{{steps.lua.output.score}}", "email": "{{steps.n.output.email}}"}}`
			validate := func(e *env) map[string]any {
				status, _, got := e.call("POST", "/api/v1/workflows/validate", e.keys[server.RoleEditor], both)
				require.Equal(t, http.StatusOK, status)
				return got
			}
			require.Equal(t, false, validate(b)["valid"], "b has not synced yet")
			require.NoError(t, b.lib.Sync(ctx))
			require.Equal(t, true, validate(b)["valid"], "%v", validate(b))
			// Run in b's process (both instances claim executions from the
			// database, so one submitted could run on a).
			runOn := func(e *env) map[string]any {
				w, err := core.ParseWorkflow([]byte(both))
				require.NoError(t, err)
				plan, err := e.eng.Compile(ctx, w)
				require.NoError(t, err)
				defer plan.Close(ctx)
				x, err := e.eng.Execute(ctx, plan, map[string]any{"a": 2, "lead": map[string]any{"email": "X@Y.Z"}})
				require.NoError(t, err)
				require.Equal(t, core.StatusCompleted, x.Status, "%+v", x.Error)
				return map[string]any{"output": x.Output}
			}
			x := runOn(b)
			require.Equal(t, map[string]any{"score": float64(4), "email": "x@y.z"}, x["output"])

			// An edit on a reaches b at its next sync; a sync with nothing
			// new changes nothing.
			status, _, got = a.call("PUT", "/api/v1/transformation-rules/score", ed, map[string]any{"source": "return {score = input.a * 10}"})
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.Equal(t, float64(4), runOn(b)["output"].(map[string]any)["score"])
			require.NoError(t, b.lib.Sync(ctx))
			require.NoError(t, b.lib.Sync(ctx))
			require.Equal(t, float64(20), runOn(b)["output"].(map[string]any)["score"])

			// Deletes too.
			status, _, _ = a.call("DELETE", "/api/v1/transformation-rules/score", ed, nil)
			require.Equal(t, http.StatusNoContent, status)
			status, _, _ = a.call("DELETE", "/api/v1/modules/leads", a.keys[server.RoleAdmin], nil)
			require.Equal(t, http.StatusNoContent, status)
			require.Equal(t, true, validate(b)["valid"])
			require.NoError(t, b.lib.Sync(ctx))
			got = validate(b)
			require.Equal(t, false, got["valid"])
			require.Contains(t, fmt.Sprint(got), `unknown rule "score" (none stored)`)
			require.Contains(t, fmt.Sprint(got), "normalize_lead")
			_, ok := b.reg.Lookup(sdk.KindValidator, "reject_disposable_email")
			require.False(t, ok)
		})
	}
}
