package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// The file's first line; the version changes only when an older
// EpicShare could no longer read the lines.
const (
	headerLine    = `{"epicshare-history":1}` + "\n"
	formatVersion = 1
	maxHeader     = 256 // bytes of the first line read to tell whose file it is
)

// readHeader checks that f, size bytes long, starts with the header and
// returns where its records begin: 0 for an empty file. It returns
// ErrNotOurs for anything else, ErrNewerFormat for a later version.
func readHeader(f io.ReaderAt, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	buf := make([]byte, min(size, maxHeader))
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read history header: %w", err)
	}
	line, end := buf[:n], int64(n)
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, end = line[:i], int64(i+1)
	} else if end < size {
		return 0, ErrNotOurs // a first line longer than any header
	}
	var h struct {
		Version *int `json:"epicshare-history"`
	}
	if json.Unmarshal(line, &h) != nil || h.Version == nil || *h.Version < 1 {
		return 0, ErrNotOurs
	}
	if *h.Version > formatVersion {
		return 0, fmt.Errorf("%w (format %d)", ErrNewerFormat, *h.Version)
	}
	return end, nil
}

// isHeader: a header line where a record should be, as when two
// processes created the file at once; skipped, not counted as damage.
func isHeader(line []byte) bool {
	var h struct {
		Version *int `json:"epicshare-history"`
	}
	return json.Unmarshal(line, &h) == nil && h.Version != nil
}

// encodeLine is r as one line of the file, newline included.
func encodeLine(r Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" as is: names are not HTML, and \u003c is six bytes
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode history record: %w", err)
	}
	return b.Bytes(), nil
}

// decodeLine reads one line of the file (without its newline) into a
// Record that passes Validate. A via or reason code that a newer
// EpicShare wrote becomes ViaUnknown or ReasonOther, so that the rest of
// the record still shows; the fields are bounded again, as the file may
// have been edited.
func decodeLine(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !r.Via.valid() {
		r.Via = ViaUnknown
	}
	if !r.Reason.valid() {
		r.Reason = ReasonOther
	}
	r = r.Sanitize()
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// entry is a record read from the file and the bytes its line took.
type entry struct {
	rec  Record
	size int
}

// scanned is what scan found.
type scanned struct {
	entries []entry // in file order: the last keep to 2×keep
	lines   int     // lines that held a record
	bad     int     // lines skipped: damaged, too long, or cut at the end
}

// readBuf is the read buffer of scan: a line longer than this is
// gathered piece by piece, up to maxLine.
const readBuf = 64 << 10

// scan reads the record lines of f between start and size, or only those
// in its last window bytes, so that neither a huge file nor a huge line
// costs more than about window of reading and 2×maxLine of memory. Of the
// records it keeps the last keep at least, in file order, dropping older
// ones in batches.
func scan(f io.ReaderAt, start, size, window int64, maxLine, keep int) (scanned, error) {
	from, partial := start, false
	if size-start > window {
		// One byte early: if it is a newline, the window starts on a
		// line, and the "partial" first line read is empty.
		from, partial = size-window-1, true
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, size-from), readBuf)
	var sc scanned
	var buf []byte
	for first := true; ; first = false {
		limit := maxLine
		if first && partial {
			limit = 0 // not kept: only read past
		}
		line, tooLong, eof, err := readLine(br, buf[:0], limit)
		if err != nil {
			return sc, fmt.Errorf("read history: %w", err)
		}
		buf = line
		text := bytes.TrimSpace(line)
		switch {
		case first && partial: // the end of a line that began before the window
		case tooLong:
			sc.bad++
		case len(text) == 0, isHeader(text):
		default:
			r, err := decodeLine(text)
			if err != nil {
				sc.bad++
				break
			}
			sc.lines++
			sc.entries = append(sc.entries, entry{r, len(line)})
			if len(sc.entries) > 2*keep {
				n := len(sc.entries) - keep
				copy(sc.entries, sc.entries[n:])
				clear(sc.entries[keep:])
				sc.entries = sc.entries[:keep]
			}
		}
		if eof {
			return sc, nil
		}
	}
}

// readLine reads one line into buf, newline included. A line of more than
// limit bytes is read to its end but not kept: tooLong, and line empty.
// eof says the file ended, with or without a line before.
func readLine(br *bufio.Reader, buf []byte, limit int) (line []byte, tooLong, eof bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			switch n := len(buf) + len(frag); {
			case n > limit+1:
				tooLong, buf = true, buf[:0]
			case n > cap(buf):
				// Doubling, where append would grow a big slice by a
				// quarter: gathering a line of limit bytes then costs 2×limit.
				nb := make([]byte, len(buf), min(max(2*cap(buf), n), limit+1))
				buf = append(nb[:copy(nb, buf)], frag...)
			default:
				buf = append(buf, frag...)
			}
		}
		switch {
		case err == nil:
			return buf, tooLong, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return buf, tooLong, true, nil
		default:
			return nil, false, false, err
		}
	}
}

// newest returns the records of entries newest first (by time, then by
// place in the file): no more than most, and no more than fit in budget
// bytes of their lines. List and a rewrite of the file apply the same
// rule, so a rewrite never changes what List shows.
func newest(entries []entry, most, budget int) []Record {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = len(entries) - 1 - i
	}
	slices.SortStableFunc(order, func(a, b int) int { return entries[b].rec.Time.Compare(entries[a].rec.Time) })
	var out []Record
	used := 0
	for _, i := range order {
		if len(out) == most || used+entries[i].size > budget {
			break
		}
		used += entries[i].size
		out = append(out, entries[i].rec)
	}
	return out
}
