package plugin

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/weftworks/weft/sdk"
)

// Serve serves components to the weft host that started this process, and
// returns when the host is done with it. Call it from main:
//
//	func main() {
//		plugin.Serve(sdk.NewStep("hello", hello))
//	}
//
// It exits the process with status 1 when the components are invalid (a
// programming error: wrong interface for the kind, a name served twice) or
// when the binary is run by hand rather than by weft.
func Serve(cs ...sdk.Component) {
	srv, err := NewServer(cs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	Logger() // before go-plugin replaces os.Stderr with a pipe of its own
	go exitWithParent(os.Getppid(), time.Second)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{Name: &GRPC{Impl: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Trace}),
	})
}

// exitWithParent ends the plugin when its host is gone (killed without
// a chance to stop its plugins): the process is then adopted by another
// parent, and no plugin must outlive the engine that started it.
func exitWithParent(ppid int, every time.Duration) {
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			os.Exit(0)
		}
	}
}

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// Logger returns the plugin's logger. Its records reach the host, which logs
// them in its own log tagged with the plugin's name, at their level. Write
// nothing else to stdout: it carries the protocol handshake.
func Logger() *slog.Logger {
	loggerOnce.Do(func() { logger = NewLogger(os.Stderr) })
	return logger
}

// NewLogger returns a logger that writes records to w in the JSON form the
// host reads from a plugin's stderr (hclog's: @level, @message, @timestamp).
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// buildModule returns the plugin binary's main module path and version.
func buildModule() (path, version string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Path, bi.Main.Version
	}
	return "", ""
}

// SDKVersion is the version of weft's module this plugin was built with
// ("(devel)" inside weft's own repository), reported to the host.
func SDKVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const mod = "github.com/weftworks/weft"
	if bi.Main.Path == mod {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			return d.Version
		}
	}
	return "unknown"
}
