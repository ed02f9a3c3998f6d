package history

import "errors"

var (
	// ErrClosed: the Store was used after Close.
	ErrClosed = errors.New("history closed")
	// ErrInvalid: a record is inconsistent (an unknown direction, kind,
	// result or reason, a negative size, a bad ID, a zero time); Add
	// refuses it and the reader skips such a line.
	ErrInvalid = errors.New("invalid history record")
	// ErrTooLarge: a record does not fit in one line of the file even
	// after Sanitize bounded it.
	ErrTooLarge = errors.New("history record too large")
	// ErrNotOurs: the history file does not start with the EpicShare
	// header. Open moves such a file aside; Add and List refuse to touch
	// one that appears later.
	ErrNotOurs = errors.New("the history file is not EpicShare's")
	// ErrLocked: another process held the history's lock for longer than
	// a rewrite takes.
	ErrLocked = errors.New("the history is locked by another process")
	// ErrNewerFormat: the history file was written by a newer EpicShare
	// (a higher format version); Open leaves it alone.
	ErrNewerFormat = errors.New("the history file is from a newer EpicShare")
)
