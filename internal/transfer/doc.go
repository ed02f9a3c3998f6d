// Package transfer owns the EpicShare file protocol: the manifest, the frames
// that carry it and the file data, hashing, and writing received files safely.
// It runs over any io.ReadWriteCloser — a Pion data channel in the product, a
// net.Pipe in tests — and knows nothing of WebRTC, websockets or the GUI.
//
// # Frames
//
// Every frame is a 4-byte big-endian length n, then n bytes: one type byte
// and the payload. A frame is at most MaxFrame bytes in all, and a writer
// writes each frame with a single Write call, so on a message-oriented data
// channel one message carries exactly one frame (the browser page relies on
// this).
//
// # Flow
//
//	sender                                               receiver
//	  | --- manifestPart … manifest (JSON Manifest) ------> |  validate, ask the user
//	  | <-- acceptPart … accept{files?, resume?} ---------- |  files: only these (default all)
//	  |     or cancel{code, detail}                         |
//	  | --- data … data, fileEnd{sha256}  (file 0) -------> |  write NAME.part, hash,
//	  | --- checking …, resume-at{offset}, data …, fileEnd  |  verify, rename to NAME
//	  |                                   (file 1) -------> |
//	  |                      …                              |
//	  | <-- done ------------------------------------------ |  every file verified
//	  | close                                               |
//
// The manifest and the accept are JSON that may span several frames (the
// accept of a resumed share of many files names each file still wanted).
// Files are sent in manifest order; directories carry no data. A receiver
// that kept part of a file from a broken transfer lists it in
// accept.resume with its length and the SHA-256 of those bytes; the sender
// hashes the same prefix of its file and starts that file with resume-at:
// the offset where the data continues, or 0 when the prefixes differ.
// While it hashes a long prefix it sends an empty checking frame every
// second, so the receiver's stall watchdog sees work, not silence. The
// fileEnd hash always covers the whole file. Either side
// may send cancel{code, detail} (a Cancel code, see errors.go) at any
// time; the other side stops and reports why. The sender finishes on the receiver's done, never on a timer, and
// the receiver keeps the channel open after done until the sender closes it,
// so done is never lost in a closing connection.
package transfer
