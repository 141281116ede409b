package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// Kinds of custody problems, as CustodyProblem.Kind names them.
const (
	// CustodyHashMismatch: a row's hash is not the hash of its fields; the
	// row was changed after it was written.
	CustodyHashMismatch = "hash-mismatch"
	// CustodyBrokenLink: a row's prev_hash is not the hash of the entry
	// before it; an entry before it was replaced (with its hash made to
	// match), or the row was.
	CustodyBrokenLink = "broken-link"
	// CustodyGap: entries missing from both the catalog and the store.
	CustodyGap = "gap"
	// CustodyRowMissing: an entry's object is in the store, its catalog row
	// is not; the row was deleted (or, for a skipped seq, the object is not
	// an entry of this log).
	CustodyRowMissing = "row-missing"
	// CustodyObjectDiffers: an entry's stored object is not the stored form
	// of its catalog row.
	CustodyObjectDiffers = "object-differs"
	// CustodyObjectMissing: an entry's catalog row has no stored object.
	CustodyObjectMissing = "object-missing"
)

// CustodyProblem is one finding of Custody.Verify.
type CustodyProblem struct {
	// Seq is the entry the problem is at (the first of a gap).
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (p CustodyProblem) String() string {
	return fmt.Sprintf("entry %d: %s: %s", p.Seq, p.Kind, p.Detail)
}

// CustodyReport is the outcome of Custody.Verify.
type CustodyReport struct {
	// OK reports that the chain is unbroken and every entry's row and
	// object agree.
	OK bool `json:"ok"`
	// Entries is how many catalog rows were checked.
	Entries int64 `json:"entries"`
	// Objects is how many custody objects the store holds.
	Objects int `json:"objects"`
	// Head is the seq of the last row checked, HeadHash its hash (the
	// value to note down to detect later truncation).
	Head     int64  `json:"head"`
	HeadHash string `json:"head_hash"`
	// Problems are the findings in seq order, the first broken link
	// first; at most maxCustodyProblems of them, MoreProblems counts the
	// rest.
	Problems     []CustodyProblem `json:"problems"`
	MoreProblems int              `json:"more_problems,omitempty"`
}

// First returns the first problem, nil when there is none.
func (r *CustodyReport) First() *CustodyProblem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

// maxCustodyProblems bounds the problems a report lists.
const maxCustodyProblems = 100

func (r *CustodyReport) add(seq int64, kind, format string, args ...any) {
	if len(r.Problems) >= maxCustodyProblems {
		r.MoreProblems++
		return
	}
	r.Problems = append(r.Problems, CustodyProblem{Seq: seq, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// custodyVerifyPage is how many rows Verify reads per query.
const custodyVerifyPage = 500

// custodyChain is Verify's position in the chain: the hash the next entry
// must name as prev_hash, when known.
type custodyChain struct {
	next  int64
	prev  string
	known bool
}

// Verify walks the chain in the catalog and the objects in the store and
// reports every break, the first first: an edited row (hash-mismatch), a
// row whose prev_hash does not name the entry before (broken-link), seqs
// missing from both sides (gap), a deleted row whose object remains
// (row-missing; this also catches rows deleted from the end of the log), an
// object that is not the stored form of its row (object-differs) and a row
// without its object (object-missing). Entries appended while Verify runs
// are checked when they are among the rows it reads. The error is for
// failures to check at all: the catalog or the store cannot be read.
func (c *Custody) Verify(ctx context.Context) (CustodyReport, error) {
	if err := c.validate(); err != nil {
		return CustodyReport{}, err
	}
	// The objects are listed before the rows are read: an entry appended
	// in between has its row read and its object fetched by key.
	objs, err := c.Store.List(ctx, CustodyPrefix)
	if err != nil {
		return CustodyReport{}, fmt.Errorf("verifying custody log: %w", err)
	}
	var stored []int64
	for _, o := range objs {
		if seq, ok := custodySeqOfKey(o.Key); ok {
			stored = append(stored, seq)
		}
	}
	slices.Sort(stored)
	rep := CustodyReport{Objects: len(stored), Problems: []CustodyProblem{}}
	ch := custodyChain{next: 1, prev: CustodyGenesis, known: true}
	for {
		page, err := c.rowsAfter(ctx, ch.next-1, custodyVerifyPage)
		if err != nil {
			return CustodyReport{}, fmt.Errorf("verifying custody log: %w", err)
		}
		for _, e := range page {
			if e.Seq > ch.next {
				if err := c.verifyMissing(ctx, &rep, &ch, stored, e.Seq-1); err != nil {
					return CustodyReport{}, err
				}
			}
			if err := c.verifyRow(ctx, &rep, ch, e); err != nil {
				return CustodyReport{}, err
			}
			ch = custodyChain{next: e.Seq + 1, prev: e.Hash, known: true}
			rep.Entries++
		}
		if len(page) < custodyVerifyPage {
			break
		}
	}
	rep.Head = ch.next - 1
	if ch.known {
		rep.HeadHash = ch.prev
	}
	if err := c.verifyTail(ctx, &rep, stored); err != nil {
		return CustodyReport{}, err
	}
	rep.OK = len(rep.Problems) == 0 && rep.MoreProblems == 0
	return rep, nil
}

// rowsAfter reads up to limit rows with seq > after, in seq order.
func (c *Custody) rowsAfter(ctx context.Context, after int64, limit int) ([]CustodyEntry, error) {
	rows, err := c.Catalog.db.QueryContext(ctx, `SELECT `+custodyColumns+` FROM custody_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading custody rows: %w", err)
	}
	defer rows.Close()
	var es []CustodyEntry
	for rows.Next() {
		e, err := scanCustodyEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("reading custody rows: %w", err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading custody rows: %w", err)
	}
	return es, nil
}

// verifyRow checks one row: its hash, its link to the entry before, and its
// stored object.
func (c *Custody) verifyRow(ctx context.Context, rep *CustodyReport, ch custodyChain, e CustodyEntry) error {
	if sum := e.ComputeHash(); sum != e.Hash {
		rep.add(e.Seq, CustodyHashMismatch, "the catalog row's hash is %s, but its fields hash to %s: the row was changed after it was written", e.Hash, sum)
	}
	if ch.known && e.PrevHash != ch.prev {
		rep.add(e.Seq, CustodyBrokenLink, "prev_hash is %s, but entry %d's hash is %s", e.PrevHash, e.Seq-1, ch.prev)
	}
	key := CustodyKey(e.Seq)
	obj, data, err := c.readObject(ctx, key)
	var perr *custodyParseError
	switch {
	case errors.Is(err, wildwatch.ErrObjectNotFound):
		rep.add(e.Seq, CustodyObjectMissing, "the catalog row has no stored object %s", key)
		return nil
	case errors.As(err, &perr):
		rep.add(e.Seq, CustodyObjectDiffers, "object %s %v", key, perr)
		return nil
	case err != nil:
		return fmt.Errorf("verifying custody entry %d: %w", e.Seq, err)
	}
	if bytes.Equal(data, e.marshalObject()) {
		return nil
	}
	diff := custodyFieldDiff(e, obj)
	what := "in its encoding only"
	if len(diff) > 0 {
		what = "in " + strings.Join(diff, ", ")
	}
	whose := ""
	if obj.Hash != obj.ComputeHash() {
		whose = "; the object does not match its own hash"
	}
	rep.add(e.Seq, CustodyObjectDiffers, "object %s differs from the catalog row %s%s", key, what, whose)
	return nil
}

// custodyFieldDiff names the fields in which a and b differ.
func custodyFieldDiff(a, b CustodyEntry) []string {
	var d []string
	check := func(name string, same bool) {
		if !same {
			d = append(d, name)
		}
	}
	check("seq", a.Seq == b.Seq)
	check("at", a.At.Equal(b.At))
	check("actor", a.Actor == b.Actor)
	check("role", a.Role == b.Role)
	check("action", a.Action == b.Action)
	check("object", a.Object == b.Object)
	check("remote", a.Remote == b.Remote)
	check("link", a.Link == b.Link)
	check("detail", a.Detail == b.Detail)
	check("prev_hash", a.PrevHash == b.PrevHash)
	check("hash", a.Hash == b.Hash)
	return d
}

// verifyMissing reports the seqs from ch.next to last, which have no rows:
// row-missing for each that has an object, one gap for each run that has
// none. The chain goes on through objects that continue it.
func (c *Custody) verifyMissing(ctx context.Context, rep *CustodyReport, ch *custodyChain, stored []int64, last int64) error {
	i, _ := slices.BinarySearch(stored, ch.next)
	for ch.next <= last {
		if i >= len(stored) || stored[i] > last {
			reportGap(rep, ch.next, last)
			ch.next, ch.known = last+1, false
			return nil
		}
		if s := stored[i]; s > ch.next {
			reportGap(rep, ch.next, s-1)
			ch.next, ch.known = s, false
		}
		if err := c.verifyOrphan(ctx, rep, ch, fmt.Sprintf("its catalog row is missing (the rows go on at entry %d)", last+1)); err != nil {
			return err
		}
		i++
	}
	return nil
}

func reportGap(rep *CustodyReport, first, last int64) {
	if first == last {
		rep.add(first, CustodyGap, "entry %d is missing from both the catalog and the store", first)
		return
	}
	rep.add(first, CustodyGap, "entries %d to %d are missing from both the catalog and the store", first, last)
}

// verifyOrphan reports the object of entry ch.next, which has no row, and
// moves the chain past it: through it when it continues the chain, around
// it (as Append skips such an object) when it does not.
func (c *Custody) verifyOrphan(ctx context.Context, rep *CustodyReport, ch *custodyChain, why string) error {
	seq := ch.next
	key := CustodyKey(seq)
	obj, _, err := c.readObject(ctx, key)
	var perr *custodyParseError
	switch {
	case errors.As(err, &perr):
		rep.add(seq, CustodyRowMissing, "object %s is in the store but %v; %s", key, perr, why)
		ch.next++
		return nil
	case errors.Is(err, wildwatch.ErrObjectNotFound):
		// Listed a moment ago, gone now.
		rep.add(seq, CustodyGap, "object %s was listed and then could not be found; its catalog row is missing", key)
		ch.next, ch.known = seq+1, false
		return nil
	case err != nil:
		return fmt.Errorf("verifying custody entry %d: %w", seq, err)
	}
	var note string
	switch {
	case obj.Seq != seq:
		note = fmt.Sprintf(" and holds entry %d", obj.Seq)
	case obj.Hash != obj.ComputeHash():
		note = " and does not match its own hash"
	case ch.known && obj.PrevHash != ch.prev:
		note = fmt.Sprintf(" and does not follow entry %d", seq-1)
	}
	rep.add(seq, CustodyRowMissing, "object %s (%s of %s by %s at %s) is in the store%s; %s",
		key, obj.Action, obj.Object, obj.Actor, obj.At.Format(custodyTimeFormat), note, why)
	if note == "" {
		ch.prev, ch.known = obj.Hash, true
	}
	ch.next++
	return nil
}

// verifyTail reports objects past the last row read. An append stores its
// object before it commits its row, so such an object may belong to an
// append in progress: the rows past the head are read again holding the
// custody lock, which waits for appends in progress to finish.
func (c *Custody) verifyTail(ctx context.Context, rep *CustodyReport, stored []int64) error {
	i, _ := slices.BinarySearch(stored, rep.Head+1)
	tail := stored[i:]
	if len(tail) == 0 {
		return nil
	}
	committed := map[int64]bool{}
	err := c.Catalog.inTx(ctx, func(tx *sql.Tx) error {
		if c.Catalog.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(custodyLockID)); err != nil {
				return fmt.Errorf("taking custody lock: %w", err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq FROM custody_log WHERE seq > $1`, rep.Head)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				return err
			}
			committed[s] = true
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("verifying custody log: reading rows past entry %d: %w", rep.Head, err)
	}
	ch := custodyChain{next: rep.Head + 1, prev: rep.HeadHash, known: rep.HeadHash != ""}
	for _, s := range tail {
		if committed[s] {
			continue // appended while Verify ran
		}
		if s != ch.next {
			reportGap(rep, ch.next, s-1)
			ch = custodyChain{next: s}
		}
		if err := c.verifyOrphan(ctx, rep, &ch, fmt.Sprintf("its catalog row is missing (the catalog's last row is entry %d)", rep.Head)); err != nil {
			return err
		}
	}
	return nil
}
