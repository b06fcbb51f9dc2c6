package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

// scriptKinds are the subdirectories of a scripts directory and how their
// files are registered.
var scriptKinds = []struct {
	dir      string
	register func(rt *lua.Runtime, reg *core.Registry, name, source string) error
}{
	{"transforms", (*lua.Runtime).RegisterTransform},
	{"validators", (*lua.Runtime).RegisterValidator},
}

// loadScripts registers the Lua scripts of dir (none when dir is empty):
// dir/transforms/NAME.lua as the transform NAME and dir/validators/NAME.lua
// as the validator NAME, beside the registry's other components (a name
// already taken is an error). Every file that fails is reported, a syntax
// error as FILE:LINE:COLUMN: message.
func loadScripts(reg *core.Registry, dir string) error {
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--scripts-dir %s: not a directory", dir)
	}
	rt := lua.New(lua.Options{})
	var errs []error
	found := false
	for _, kind := range scriptKinds {
		sub := filepath.Join(dir, kind.dir)
		entries, err := os.ReadDir(sub) // sorted by name
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--scripts-dir: %w", err))
			continue
		}
		found = true
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".lua")
			if !ok || e.IsDir() {
				continue
			}
			file := filepath.Join(sub, e.Name())
			source, err := os.ReadFile(file)
			if err == nil {
				err = kind.register(rt, reg, name, string(source))
			}
			if err != nil {
				errs = append(errs, scriptError(file, err))
			}
		}
	}
	if !found && len(errs) == 0 {
		return fmt.Errorf("--scripts-dir %s: holds neither transforms/ nor validators/", dir)
	}
	return errors.Join(errs...)
}

// scriptError places a script's problems in its file: FILE:LINE:COLUMN:
// message, as compilers do, so editors can jump to them.
func scriptError(file string, err error) error {
	var ve *sdk.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%s: %w", file, err)
	}
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		if p.Line > 0 {
			lines[i] = fmt.Sprintf("%s:%d:%d: %s", file, p.Line, p.Column, p.Message)
		} else {
			lines[i] = fmt.Sprintf("%s: %s", file, p.Message)
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// scriptsDirUsage is the help of the --scripts-dir flag.
const scriptsDirUsage = "a directory of Lua scripts to load: transforms/NAME.lua as the transform NAME, validators/NAME.lua as the validator NAME (env WEFT_SCRIPTS_DIR)"
