package rotate

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// keyLog logs with the key's name as the "key" field, added at each call.
// It replaces a child logger per key (Logger.With), since each child keeps
// its own encoder buffer: at 10,000 keys those were 24 MiB of an idle
// daemon's heap for loggers that rarely write.
type keyLog struct {
	// l is the engine's logger with two extra caller skips (write and the
	// level method), shared by every key.
	l   *zap.Logger
	key string
}

func newKeyLog(l *zap.Logger, key string) keyLog {
	return keyLog{l: l, key: key}
}

func (k keyLog) Debug(msg string, fields ...zap.Field) { k.write(zapcore.DebugLevel, msg, fields) }
func (k keyLog) Info(msg string, fields ...zap.Field)  { k.write(zapcore.InfoLevel, msg, fields) }
func (k keyLog) Warn(msg string, fields ...zap.Field)  { k.write(zapcore.WarnLevel, msg, fields) }
func (k keyLog) Error(msg string, fields ...zap.Field) { k.write(zapcore.ErrorLevel, msg, fields) }

// With returns a child logger carrying the key and fields.
func (k keyLog) With(fields ...zap.Field) *zap.Logger {
	return k.l.WithOptions(zap.AddCallerSkip(-2)).With(append([]zap.Field{zap.String("key", k.key)}, fields...)...)
}

func (k keyLog) write(lvl zapcore.Level, msg string, fields []zap.Field) {
	if ce := k.l.Check(lvl, msg); ce != nil {
		ce.Write(append([]zap.Field{zap.String("key", k.key)}, fields...)...)
	}
}
