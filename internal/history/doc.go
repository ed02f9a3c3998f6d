// Package history owns the record of past transfers, sent and received:
// what a Record holds, how it is bounded and cleaned (Sanitize), the
// file that keeps the records in the app's storage, and how a transfer's
// error becomes a stable Reason code (ReasonOf). The History view and the
// CLI read it; session and transfer know nothing of it, and the UI fills
// each Record from what session reports when a transfer ends.
//
// # What is never stored
//
// The real guard is the Record type: it has no field for a link, a link's
// secret, a peer token or an inbox identity, so no caller can put one
// there by mistake. On top of that, Sanitize strips the #fragment and the
// user:password@ of every URL found in any text field (a person may send
// a link as a text message), so a link's secret never reaches the disk.
// A bare secret cannot be told from other text, and the text a person
// sent is theirs to copy again, so nothing else is removed from it.
//
// # File
//
// One file, history.jsonl, in the directory given to Open: JSON Lines,
// whose first line identifies it,
//
//	{"epicshare-history":1}
//	{"id":"…","time":"2026-05-01T09:30:00Z","direction":"sent",…}
//	{"id":"…","time":"2026-05-01T09:41:07Z","direction":"received",…}
//
// Each Add appends one line with one write on a file opened O_APPEND, so
// the window and the CLI may append at once without interleaving. When
// the file holds more than Max records plus some slack, or more than a
// few MiB, it is rewritten with the newest Max records (a temporary file
// in the same directory, fsync, rename), under an advisory lock
// (history.lock: flock on Unix, LockFileEx on Windows) that appends take
// shared, so that no append lands in a file being replaced.
//
// Reading trusts nothing: only the last few MiB of the file are read, a
// line longer than a record can be is skipped without being held, a
// damaged or cut line is skipped, and a file that does not start with the
// header is moved aside (history.jsonl.not-ours-UNIX), never overwritten.
package history
