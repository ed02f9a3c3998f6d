package relay

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs hands pion's messages to the relay's slog.Logger. pion logs
// at Info for each refused permission and each datagram from a peer
// without one, so its Info becomes Debug here: a client must not be able
// to fill the server's log. Its Trace is below Debug.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLog{f.log.With("pion", scope)}
}

type pionLog struct{ log *slog.Logger }

const levelTrace = slog.LevelDebug - 4

func (l pionLog) logf(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, fmt.Sprintf(format, args...))
	}
}

func (l pionLog) Trace(msg string)                  { l.logf(levelTrace, "%s", msg) }
func (l pionLog) Tracef(format string, args ...any) { l.logf(levelTrace, format, args...) }
func (l pionLog) Debug(msg string)                  { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLog) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l pionLog) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLog) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLog) Warn(msg string)                   { l.logf(slog.LevelWarn, "%s", msg) }
func (l pionLog) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }
func (l pionLog) Error(msg string)                  { l.logf(slog.LevelError, "%s", msg) }
func (l pionLog) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
