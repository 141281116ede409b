package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/wildwatch/wildwatch/storage"
)

// evidenceKeyHeader names the evidence object an answer carries; sendObject
// sets it, and the custody log records it.
const evidenceKeyHeader = "X-Evidence-Key"

// RecordAccess appends a custody entry for an access to object by the
// request's principal (its token's name and role) from the request's
// remote address, and returns the entry. A handler that hands evidence out
// other than through the evidence routes, which log by themselves, calls it
// before it sends anything and refuses the request when it fails: the
// bundle export records each export with
//
//	if _, err := s.RecordAccess(r, storage.ActionExport, bundleID, "captures: c1, c2"); err != nil {
//		s.custodyFailed(w, r, err)
//		return
//	}
//
// The remote address is the connection's peer (r.RemoteAddr): behind a
// reverse proxy, the proxy's.
func (s *Server) RecordAccess(r *http.Request, action, object, detail string) (storage.CustodyEntry, error) {
	p := principalFrom(r.Context())
	return s.cfg.Custody.Append(r.Context(), storage.CustodyEvent{
		Actor: p.Name, Role: p.Role, Action: action, Object: object, Remote: r.RemoteAddr, Detail: detail,
	})
}

// custodyFailed answers a request whose access could not be recorded.
func (s *Server) custodyFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.ErrorContext(r.Context(), "custody log append failed; access refused", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusServiceUnavailable, "the access could not be recorded in the custody log, so no evidence was sent; try again later")
}

// logged wraps an evidence route so that every read it serves is in the
// custody log: when the handler starts a successful answer, the entry
// (action, the principal, the object named by the X-Evidence-Key header)
// is appended before any byte of it is sent. When the append fails the
// answer becomes a 503 and no evidence is sent. Failed answers (404, …)
// send no evidence and are not logged.
func (s *Server) logged(action string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cw := &custodyWriter{ResponseWriter: w, record: func(key string) error {
			_, err := s.RecordAccess(r, action, key, methodDetail(r))
			return err
		}, refuse: func(w http.ResponseWriter, err error) { s.custodyFailed(w, r, err) }, fallback: r.URL.Path}
		h(cw, r)
	}
}

// methodDetail is the custody detail of a read: a HEAD request sends the
// headers only.
func methodDetail(r *http.Request) string {
	if r.Method == http.MethodHead {
		return "HEAD request: headers only"
	}
	return ""
}

// errCustodyRefused is what writes get after the custody log refused an
// answer.
var errCustodyRefused = errors.New("answer refused: the access could not be recorded")

// custodyWriter records an answer in the custody log when its status is
// written, before its body.
type custodyWriter struct {
	http.ResponseWriter
	record func(key string) error
	refuse func(w http.ResponseWriter, err error)
	// fallback is the object recorded when a successful answer names no
	// evidence key.
	fallback string

	started, refused bool
}

func (c *custodyWriter) WriteHeader(code int) {
	if c.started {
		if !c.refused {
			c.ResponseWriter.WriteHeader(code)
		}
		return
	}
	c.started = true
	if code >= 200 && code < 300 {
		h := c.Header()
		key := h.Get(evidenceKeyHeader)
		if key == "" {
			key = c.fallback
		}
		if err := c.record(key); err != nil {
			c.refused = true
			for _, k := range []string{"Content-Length", "Content-Disposition", "Content-Type", evidenceKeyHeader} {
				h.Del(k)
			}
			c.refuse(c.ResponseWriter, err)
			return
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *custodyWriter) Write(b []byte) (int, error) {
	if !c.started {
		c.WriteHeader(http.StatusOK)
	}
	if c.refused {
		return 0, errCustodyRefused
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *custodyWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// listCustody answers GET /api/v1/custody: entries selected by object,
// prefix, actor, action and link (exact), after (a seq, to page on), limit
// (default 100, at most 1000) and newest=true (latest first).
func (s *Server) listCustody(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := storage.CustodyFilter{Object: q.Get("object"), Prefix: q.Get("prefix"), Actor: q.Get("actor"), Action: q.Get("action"), Link: q.Get("link")}
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, err := intParam(r, "after")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.Limit, f.After = limit, int64(after)
	if v := q.Get("newest"); v != "" {
		if f.Newest, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, "newest: want true or false, got "+strconv.Quote(v))
			return
		}
	}
	es, err := s.cfg.Custody.List(r.Context(), f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, es)
}

// verifyCustody answers GET /api/v1/custody/verify with the report of
// storage.Custody.Verify; a broken chain is a 200 with "ok": false.
func (s *Server) verifyCustody(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Custody.Verify(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
