package plugins

import (
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogger routes go-plugin's hclog logging, and through it the records a
// plugin writes to its stderr, into weft's slog logger with the plugin's
// name.
type slogger struct {
	l     *slog.Logger
	name  string
	args  []any
	level hclog.Level
}

var _ hclog.Logger = (*slogger)(nil)

func newSlogger(l *slog.Logger, name string) *slogger {
	return &slogger{l: l.With("plugin", name), name: name, level: hclog.Debug}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (s *slogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < s.level {
		return
	}
	s.l.Log(context.Background(), slogLevel(level), msg, append(s.args[:len(s.args):len(s.args)], args...)...)
}

func (s *slogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }
func (s *slogger) IsTrace() bool                 { return s.level <= hclog.Trace }
func (s *slogger) IsDebug() bool                 { return s.level <= hclog.Debug }
func (s *slogger) IsInfo() bool                  { return s.level <= hclog.Info }
func (s *slogger) IsWarn() bool                  { return s.level <= hclog.Warn }
func (s *slogger) IsError() bool                 { return s.level <= hclog.Error }
func (s *slogger) ImpliedArgs() []any            { return s.args }
func (s *slogger) Name() string                  { return s.name }
func (s *slogger) SetLevel(level hclog.Level)    { s.level = level }
func (s *slogger) GetLevel() hclog.Level         { return s.level }

func (s *slogger) With(args ...any) hclog.Logger {
	cp := *s
	cp.args = append(s.args[:len(s.args):len(s.args)], args...)
	return &cp
}

// Named keeps the plugin's name: go-plugin names the logger after the
// binary's path, which says less.
func (s *slogger) Named(string) hclog.Logger      { cp := *s; return &cp }
func (s *slogger) ResetNamed(string) hclog.Logger { cp := *s; return &cp }

func (s *slogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		s.Info(string(p))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
