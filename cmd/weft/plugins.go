package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/plugins"
)

// defaultPluginsDir is where weft serve and weft worker look for plugins
// when --plugins-dir is not given (docs/architecture.md); a missing default directory
// means no plugins. weft run and weft validate load plugins only when
// asked: run in a checkout of someone else's repository, they must not
// execute whatever its ./plugins holds.
const defaultPluginsDir = "plugins"

// pluginFlags are the flags of the commands that run plugins.
type pluginFlags struct {
	dir       string
	defaulted bool // dir is the command's default, not asked for: it may be missing
	checksums string
	env       listFlag
	maxProcs  int
}

// register adds the flags; defaultDir is --plugins-dir's default.
func (f *pluginFlags) register(fs *flag.FlagSet, defaultDir string) {
	_, fromEnv := os.LookupEnv("WEFT_PLUGINS_DIR")
	f.dir, f.defaulted = envOr("WEFT_PLUGINS_DIR", defaultDir), !fromEnv
	fs.Func("plugins-dir", "a `directory` of plugin binaries: each executable file is a plugin named after it (env WEFT_PLUGINS_DIR; \"\" for none; default "+strconv.Quote(f.dir)+")",
		func(v string) error { f.dir, f.defaulted = v, false; return nil })
	fs.StringVar(&f.checksums, "plugin-checksums", os.Getenv("WEFT_PLUGIN_CHECKSUMS"),
		"a file of `sha256sum` lines (HEX  FILE) pinning plugin binaries: a listed plugin whose binary differs is refused (env WEFT_PLUGIN_CHECKSUMS)")
	fs.Var(&f.env, "plugin-env",
		"PLUGIN=VAR: pass weft's environment variable VAR to PLUGIN (repeatable or comma-separated; plugins inherit nothing else)")
	f.maxProcs = plugins.DefaultMaxProcs
	if v := os.Getenv("WEFT_PLUGIN_MAX_PROCS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			f.maxProcs = n
		} else {
			f.maxProcs = plugins.DefaultMaxProcs
			fmt.Fprintf(os.Stderr, "weft: WEFT_PLUGIN_MAX_PROCS=%q is not a number; using %d\n", v, f.maxProcs)
		}
	}
	fs.IntVar(&f.maxProcs, "plugin-max-procs", f.maxProcs,
		"GOMAXPROCS of plugin processes: 1 keeps a call on one thread (fastest round trip); -1 for every CPU (env WEFT_PLUGIN_MAX_PROCS)")
}

// options turns the flags into plugins.Options.
func (f *pluginFlags) options(logger *slog.Logger) (plugins.Options, error) {
	opts := plugins.Options{Dir: f.dir, Logger: logger, MaxProcs: f.maxProcs}
	if f.checksums != "" {
		sums, err := readChecksums(f.checksums)
		if err != nil {
			return opts, err
		}
		opts.Checksums = sums
	}
	for _, e := range f.env {
		name, variable, ok := strings.Cut(e, "=")
		if !ok || name == "" || variable == "" {
			return opts, fmt.Errorf("--plugin-env %q: want PLUGIN=VAR", e)
		}
		if opts.Env == nil {
			opts.Env = map[string][]string{}
		}
		if v, set := os.LookupEnv(variable); set {
			opts.Env[name] = append(opts.Env[name], variable+"="+v)
		}
	}
	return opts, nil
}

// readChecksums reads sha256sum output: "HEX  FILE" (FILE may start with
// '*' in binary mode); plugins are named after FILE.
func readChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--plugin-checksums: %w", err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		sum, file, ok := strings.Cut(text, " ")
		file = strings.TrimPrefix(strings.TrimSpace(file), "*")
		if !ok || len(sum) != 64 || file == "" {
			return nil, fmt.Errorf("--plugin-checksums %s:%d: want \"HEX  FILE\" as sha256sum writes it", path, line)
		}
		sums[plugins.PluginName(file)] = strings.ToLower(sum)
	}
	return sums, sc.Err()
}

// startPlugins starts the plugins of the flags' directory and registers
// their components in reg. A plugin that fails is logged and listed as
// FAILED; the others run. A --plugins-dir given explicitly must exist.
func startPlugins(ctx context.Context, reg *core.Registry, f pluginFlags, logger *slog.Logger) (*boundPlugins, error) {
	if f.dir != "" && !f.defaulted {
		if fi, err := os.Stat(f.dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--plugins-dir %s: not a directory", f.dir)
		}
	}
	opts, err := f.options(logger)
	if err != nil {
		return nil, err
	}
	m := plugins.New(opts)
	if err := m.Load(ctx, reg); err != nil {
		logger.Error("some plugins could not be loaded", "error", err)
	}
	return &boundPlugins{Manager: m, reg: reg}, nil
}

// boundPlugins is a plugin manager with the registry it loads into: what
// the server's /api/v1/plugins needs.
type boundPlugins struct {
	*plugins.Manager
	reg *core.Registry
}

// Reload implements server.Plugins.
func (b *boundPlugins) Reload(ctx context.Context) (plugins.ReloadReport, error) {
	return b.Manager.Reload(ctx, b.reg)
}

// cmdPlugins is `weft plugins list`.
func cmdPlugins(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "Usage: weft plugins list [--plugins-dir DIR] [--json]\n\nStarts every plugin of the directory, asks what it provides and lists it.")
		return exitUsage
	}
	fs := flag.NewFlagSet("weft plugins list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf pluginFlags
	pf.register(fs, defaultPluginsDir)
	asJSON := fs.Bool("json", false, "print JSON")
	if rest, err := parseArgs(fs, args[1:]); err != nil || len(rest) > 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := registry(steps.Options{})
	bp, err := startPlugins(ctx, reg, pf, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	defer bp.Close(context.WithoutCancel(ctx))
	list := bp.List()
	if *asJSON {
		if list == nil {
			list = []plugins.Status{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(list)
	} else {
		printPlugins(stdout, pf.dir, list)
	}
	for _, s := range list {
		if s.State == plugins.StateFailed {
			return exitFailed
		}
	}
	return exitOK
}

func printPlugins(w io.Writer, dir string, list []plugins.Status) {
	if len(list) == 0 {
		abs, _ := filepath.Abs(dir)
		fmt.Fprintf(w, "no plugins in %s\n", abs)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOL\tSTATUS\tPROVIDES")
	for _, s := range list {
		var provides []string
		for _, c := range s.Components {
			provides = append(provides, fmt.Sprintf("%s %s", c.Kind, c.Name))
		}
		status := string(s.State)
		if s.Error != "" {
			status += ": " + s.Error
		}
		version := s.Version
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Name, version, s.Protocol, status, strings.Join(provides, ", "))
	}
	_ = tw.Flush()
}
