package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
)

// Custody is the evidence access log, the chain of custody: an append-only,
// hash-chained record of who read, exported or shared which evidence, when
// and from where. Entries are rows of the catalog's custody_log table,
// numbered 1, 2, 3, … without gaps; each holds the hash of the entry before
// it and its own hash over a canonical encoding of all its fields (see
// CustodyEntry.ComputeHash), so that editing or removing a row breaks the
// chain. Each entry is also stored, once and for good, as the evidence
// object custody/<seq, 12 digits>.json (CustodyKey), so that a row edited
// together with its hash, or removed from the end of the log, is still
// caught by Verify: the store keeps what the catalog lost.
//
// Appends are serialised across processes, so the chain never forks: on
// PostgreSQL each append holds an advisory lock for its transaction; on
// SQLite the transaction begins IMMEDIATE and so holds the database's single
// write lock. An append stores the entry's object before it commits the
// row; should the commit then fail, the next append finds the object,
// checks that it continues the chain, restores its row and records that it
// did so in an entry of its own (action "repair"). The log may therefore
// hold an access that the caller was in the end refused; it never misses
// one that was granted. An object in the way that does not continue the
// chain (planted, or damaged) is left where it is: its seq is skipped and
// the skip recorded, and Verify keeps reporting it.
//
// The catalog does not stop a user with write access to the database from
// editing rows; the log makes such edits visible. Objects on a directory
// store are read-only files; on S3 with object lock they cannot be changed
// before their retention ends.
//
// A Custody is safe for concurrent use.
type Custody struct {
	Catalog *Catalog
	Store   wildwatch.EvidenceStore
	// Logger receives repairs; nil discards.
	Logger *slog.Logger
}

// Actions of custody entries. Callers may record others.
const (
	ActionReadWARC       = "read-warc"
	ActionReadManifest   = "read-manifest"
	ActionReadScreenshot = "read-screenshot"
	ActionReadDOM        = "read-dom"
	// ActionExport is a case bundle leaving the system; its object is the
	// bundle (or the capture exported).
	ActionExport = "export"
	// ActionLinkCreate is a share link made; Link names it, Detail says
	// until when it is valid and of which kind it is.
	ActionLinkCreate = "link-create"
	// ActionLinkUse is an object fetched through a share link; Actor is
	// "link" and Link names the link.
	ActionLinkUse = "link-use"
	// ActionVerify is evidence read to check its digests and signature.
	ActionVerify = "verify"
	// ActionRepair is an entry restored from its stored object after its
	// row failed to commit; Object is the restored object's key.
	ActionRepair = "repair"
)

// Roles of custody entries besides the API's token roles (monitor,
// investigator, admin).
const (
	// CustodyRoleLocal is a command run on the machine, with direct
	// access to the catalog and the store; Actor is the OS user.
	CustodyRoleLocal = "local"
	// CustodyRoleLink is a share link's bearer; Actor is "link".
	CustodyRoleLink = "link"
	// CustodyRoleSystem is wildwatch itself (repairs).
	CustodyRoleSystem = "system"
)

// CustodyEvent is an access to record. Actor, Role, Action and Object are
// required. Invalid UTF-8 and NUL bytes are replaced before recording (they
// could not round-trip through JSON and PostgreSQL).
type CustodyEvent struct {
	// Actor is who: a token's name, an OS user, "link".
	Actor string
	// Role is the actor's role: monitor, investigator, admin, local, link.
	Role string
	// Action is what: one of the Action constants.
	Action string
	// Object is on what: an evidence key, or a capture or bundle ID.
	Object string
	// Remote is from where: the client's address; empty when none.
	Remote string
	// Link is the share link used or created; empty when none.
	Link string
	// Detail is free text (a link's expiry, an export's contents).
	Detail string
}

// CustodyEntry is one recorded access. Its JSON form, one object per line
// with a final newline, is what is stored under CustodyKey(Seq).
type CustodyEntry struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Role     string    `json:"role"`
	Action   string    `json:"action"`
	Object   string    `json:"object"`
	Remote   string    `json:"remote"`
	Link     string    `json:"link"`
	Detail   string    `json:"detail"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

// CustodyGenesis is the PrevHash of entry 1.
var CustodyGenesis = strings.Repeat("0", 64)

// custodyHashVersion starts the hashed encoding; a new encoding gets a new
// version.
const custodyHashVersion = "wildwatch-custody-v1"

// custodyTimeFormat writes At in the hashed encoding: UTC, microseconds.
const custodyTimeFormat = "2006-01-02T15:04:05.000000Z"

// ComputeHash returns the hex SHA-256 of the entry's canonical encoding:
// the line "wildwatch-custody-v1", then one line per field in this order:
// seq, at, actor, role, action, object, remote, link, detail, prev_hash;
// each line is the field's name, a space, the length in bytes of its value
// in decimal, a colon, the value, and "\n". seq is decimal; at is UTC with
// six fractional digits, "2025-03-01T12:00:00.123456Z". Hash itself is not
// part of the encoding.
func (e CustodyEntry) ComputeHash() string {
	var b bytes.Buffer
	b.WriteString(custodyHashVersion + "\n")
	field := func(name, v string) {
		b.WriteString(name)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	field("seq", strconv.FormatInt(e.Seq, 10))
	field("at", e.At.UTC().Format(custodyTimeFormat))
	field("actor", e.Actor)
	field("role", e.Role)
	field("action", e.Action)
	field("object", e.Object)
	field("remote", e.Remote)
	field("link", e.Link)
	field("detail", e.Detail)
	field("prev_hash", e.PrevHash)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// marshalObject returns the stored form of e.
func (e CustodyEntry) marshalObject() []byte {
	b, _ := json.Marshal(e) // strings and a time: cannot fail
	return append(b, '\n')
}

// CustodyPrefix is the key prefix of custody objects.
const CustodyPrefix = "custody/"

// custodySeqDigits is how many digits CustodyKey pads seq to, so that keys
// sort in seq order.
const custodySeqDigits = 12

// CustodyKey is the evidence key of custody entry seq:
// custody/000000000042.json.
func CustodyKey(seq int64) string {
	return fmt.Sprintf("%s%0*d.json", CustodyPrefix, custodySeqDigits, seq)
}

// custodySeqOfKey parses a key CustodyKey made; ok is false for others.
func custodySeqOfKey(key string) (int64, bool) {
	s, ok := strings.CutPrefix(key, CustodyPrefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || len(s) != custodySeqDigits {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || CustodyKey(n) != key {
		return 0, false
	}
	return n, true
}

// custodyLockID is the PostgreSQL advisory lock key that serialises custody
// appends across processes ("custody" as a big-endian integer).
const custodyLockID = 0x637573746f6479

// maxCustodyRepairs bounds how many orphaned entries one Append restores.
const maxCustodyRepairs = 8

func (c *Custody) validate() error {
	if c.Catalog == nil || c.Store == nil {
		return errors.New("custody log: catalog and store are required")
	}
	return nil
}

func (c *Custody) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// cleanCustodyText makes s storable: valid UTF-8 without NUL bytes.
func cleanCustodyText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// Append records ev as the next entry and returns it. The entry's object is
// stored before its row is committed; an error means the access must be
// refused, since it may not be on record.
func (c *Custody) Append(ctx context.Context, ev CustodyEvent) (CustodyEntry, error) {
	if err := c.validate(); err != nil {
		return CustodyEntry{}, err
	}
	for _, f := range []*string{&ev.Actor, &ev.Role, &ev.Action, &ev.Object, &ev.Remote, &ev.Link, &ev.Detail} {
		*f = cleanCustodyText(*f)
	}
	if ev.Actor == "" || ev.Role == "" || ev.Action == "" || ev.Object == "" {
		return CustodyEntry{}, fmt.Errorf("custody entry %+v: actor, role, action and object are required: %w", ev, ErrInvalid)
	}
	var e CustodyEntry
	err := c.Catalog.inTx(ctx, func(tx *sql.Tx) error {
		if c.Catalog.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(custodyLockID)); err != nil {
				return fmt.Errorf("taking custody lock: %w", err)
			}
		}
		head, err := custodyHead(ctx, tx)
		if err != nil {
			return err
		}
		e, err = c.appendLocked(ctx, tx, head, ev, 0)
		return err
	})
	if err != nil {
		return CustodyEntry{}, fmt.Errorf("recording %s of %s by %s: %w", ev.Action, ev.Object, ev.Actor, err)
	}
	return e, nil
}

// custodyHead returns the last entry's seq and hash: 0 and CustodyGenesis
// when the log is empty.
func custodyHead(ctx context.Context, tx *sql.Tx) (CustodyEntry, error) {
	head := CustodyEntry{Hash: CustodyGenesis}
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM custody_log ORDER BY seq DESC LIMIT 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return CustodyEntry{}, fmt.Errorf("reading custody head: %w", err)
	}
	return head, nil
}

// appendLocked stores ev as the entry after head, holding the custody lock
// in tx. When the object of that seq exists already, an earlier append
// stored it and failed to commit its row: the object is restored as a row
// and the restoration recorded, then ev follows. An object there that does
// not continue the chain is left alone: its seq is skipped, the skip
// recorded (Verify goes on reporting the object), and ev follows, so that a
// planted object cannot stop evidence from being read.
func (c *Custody) appendLocked(ctx context.Context, tx *sql.Tx, head CustodyEntry, ev CustodyEvent, repairs int) (CustodyEntry, error) {
	seq, prev := head.Seq+1, head.Hash
	for {
		e := CustodyEntry{
			Seq: seq, At: catalogNow(),
			Actor: ev.Actor, Role: ev.Role, Action: ev.Action, Object: ev.Object,
			Remote: ev.Remote, Link: ev.Link, Detail: ev.Detail,
			PrevHash: prev,
		}
		e.Hash = e.ComputeHash()
		data := e.marshalObject()
		key := CustodyKey(e.Seq)
		_, err := c.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ContentTypeManifest)
		if err == nil {
			if err := insertCustodyRow(ctx, tx, e); err != nil {
				return CustodyEntry{}, err
			}
			return e, nil
		}
		if !errors.Is(err, wildwatch.ErrObjectExists) {
			return CustodyEntry{}, fmt.Errorf("storing custody entry %d: %w", e.Seq, err)
		}
		if repairs >= maxCustodyRepairs {
			return CustodyEntry{}, fmt.Errorf("custody entry %d: more than %d stored entries without rows; verify the custody log", e.Seq, maxCustodyRepairs)
		}
		repairs++
		after := CustodyEntry{Seq: seq - 1, Hash: prev}
		note := CustodyEvent{Actor: "wildwatch", Role: CustodyRoleSystem, Action: ActionRepair, Object: key}
		adopted, reason, err := c.adopt(ctx, tx, after)
		switch {
		case err != nil:
			return CustodyEntry{}, err
		case reason == "":
			c.logger().WarnContext(ctx, "custody entry restored from its stored object; its catalog row was missing", "seq", seq, "key", key)
			note.Detail = fmt.Sprintf("entry %d restored from its stored object: its catalog row was missing", seq)
			after = adopted
		default:
			c.logger().ErrorContext(ctx, "custody object in the way of the next entry; its seq is skipped", "seq", seq, "key", key, "reason", reason)
			note.Detail = fmt.Sprintf("seq %d skipped: object %s is stored but %s", seq, key, reason)
			after.Seq = seq // the note takes seq+1 and links to the entry before the skipped seq
		}
		noted, err := c.appendLocked(ctx, tx, after, note, repairs)
		if err != nil {
			return CustodyEntry{}, err
		}
		seq, prev = noted.Seq+1, noted.Hash
	}
}

// adopt reads the stored object of the entry after head and, when it
// continues the chain, inserts it as a row and returns it. Otherwise reason
// says why it does not; err is for failures to read the store.
func (c *Custody) adopt(ctx context.Context, tx *sql.Tx, head CustodyEntry) (_ CustodyEntry, reason string, _ error) {
	seq := head.Seq + 1
	key := CustodyKey(seq)
	e, _, err := c.readObject(ctx, key)
	var perr *custodyParseError
	switch {
	case errors.As(err, &perr):
		return CustodyEntry{}, perr.Error(), nil
	case err != nil:
		return CustodyEntry{}, "", fmt.Errorf("custody entry %d is stored without a catalog row: %w", seq, err)
	case e.Seq != seq:
		return CustodyEntry{}, fmt.Sprintf("holds entry %d", e.Seq), nil
	case e.Hash != e.ComputeHash():
		return CustodyEntry{}, "does not match its own hash", nil
	case e.PrevHash != head.Hash:
		return CustodyEntry{}, fmt.Sprintf("does not follow entry %d (its prev_hash is %s, not %s)", head.Seq, e.PrevHash, head.Hash), nil
	}
	if err := insertCustodyRow(ctx, tx, e); err != nil {
		return CustodyEntry{}, "", err
	}
	return e, "", nil
}

// readObject reads and parses a stored custody object, returning its bytes
// too.
func (c *Custody) readObject(ctx context.Context, key string) (CustodyEntry, []byte, error) {
	rc, _, err := c.Store.Get(ctx, key)
	if err != nil {
		return CustodyEntry{}, nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return CustodyEntry{}, nil, fmt.Errorf("reading %s: %w", key, err)
	}
	var e CustodyEntry
	if len(data) > maxManifestBytes {
		return e, data, &custodyParseError{fmt.Errorf("larger than %d bytes", maxManifestBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, data, &custodyParseError{err}
	}
	e.At = e.At.UTC()
	return e, data, nil
}

// custodyParseError is a stored custody object that could be read but does
// not parse as an entry: a finding, not a failure to read.
type custodyParseError struct{ err error }

func (e *custodyParseError) Error() string { return "is not a custody entry: " + e.err.Error() }
func (e *custodyParseError) Unwrap() error { return e.err }

const custodyColumns = `seq, at, actor, role, action, object, remote, link, detail, prev_hash, hash`

func insertCustodyRow(ctx context.Context, tx *sql.Tx, e CustodyEntry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO custody_log (`+custodyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, unixMicros(e.At), e.Actor, e.Role, e.Action, e.Object, e.Remote, e.Link, e.Detail, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("inserting custody entry %d: %w", e.Seq, err)
	}
	return nil
}

func scanCustodyEntry(r rowScanner) (CustodyEntry, error) {
	var e CustodyEntry
	var at int64
	if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Object, &e.Remote, &e.Link, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return CustodyEntry{}, err
	}
	e.At = timeFromMicros(at)
	return e, nil
}

// CustodyFilter selects entries for List. Zero fields select everything.
type CustodyFilter struct {
	// Object selects entries on exactly this object.
	Object string
	// Prefix selects entries whose object starts with it
	// ("captures/s1/c1" for every object of a capture).
	Prefix string
	Actor  string
	Action string
	Link   string
	// After selects entries with a greater seq (paging forward).
	After int64
	// Newest lists the latest entries first instead of the oldest.
	Newest bool
	// Limit bounds the entries returned: default 100, at most 1000.
	Limit int
}

// List returns the entries f selects, in seq order (reversed with Newest).
// It needs only the Catalog.
func (c *Custody) List(ctx context.Context, f CustodyFilter) ([]CustodyEntry, error) {
	if c.Catalog == nil {
		return nil, errors.New("custody log: no catalog")
	}
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing custody entries: %w", err)
	}
	if f.After < 0 {
		return nil, fmt.Errorf("listing custody entries: after %d: %w", f.After, ErrInvalid)
	}
	var w sqlWhere
	if f.Object != "" {
		w.add("object = ?", f.Object)
	}
	if f.Prefix != "" {
		// substr, not LIKE: keys may hold % and _.
		w.add("substr(object, 1, "+w.arg(int64(len([]rune(f.Prefix))))+") = ?", f.Prefix)
	}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Link != "" {
		w.add("link = ?", f.Link)
	}
	if f.After > 0 {
		w.add("seq > ?", f.After)
	}
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	q := `SELECT ` + custodyColumns + ` FROM custody_log` + w.String() + ` ORDER BY seq ` + order + ` LIMIT ` + w.arg(int64(limit))
	es, err := queryAll(ctx, c.Catalog.db, scanCustodyEntry, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing custody entries: %w", err)
	}
	return es, nil
}
