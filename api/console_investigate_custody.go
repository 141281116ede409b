package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wildwatch/wildwatch/storage"
)

// custodyView is the data of the custody log page.
type custodyView struct {
	Object, Prefix string
	Entries        []storage.CustodyEntry
	// Next is the seq to page on from; 0 when this is the last page.
	Next int64
	// Report is the chain's verification, on the admins' verify page.
	Report *storage.CustodyReport
}

// custodyPageSize is how many entries the custody page shows at a time.
const custodyPageSize = 100

// investigateCustody lists the custody log entries of an object (exact
// key) or of every object under a prefix (a capture's objects), oldest
// first; with neither, the latest entries of the whole log.
func (s *Server) investigateCustody(w http.ResponseWriter, r *http.Request) {
	v, ok := s.custodyEntries(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "investigate_custody", v)
}

func (s *Server) custodyEntries(w http.ResponseWriter, r *http.Request) (custodyView, bool) {
	q := r.URL.Query()
	v := custodyView{Object: strings.TrimSpace(q.Get("object")), Prefix: strings.TrimSpace(q.Get("prefix"))}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	f := storage.CustodyFilter{Object: v.Object, Prefix: v.Prefix, After: max(after, 0), Limit: custodyPageSize + 1}
	if v.Object == "" && v.Prefix == "" {
		f.Newest, f.After = true, 0
	}
	es, err := s.cfg.Custody.List(r.Context(), f)
	if err != nil {
		s.consoleError(w, r, err)
		return v, false
	}
	if len(es) > custodyPageSize {
		es = es[:custodyPageSize]
		if !f.Newest {
			v.Next = es[len(es)-1].Seq
		}
	}
	v.Entries = es
	return v, true
}

// investigateVerifyCustody checks the whole chain (Custody.Verify) and
// shows the result above the entries asked for.
func (s *Server) investigateVerifyCustody(w http.ResponseWriter, r *http.Request) {
	v, ok := s.custodyEntries(w, r)
	if !ok {
		return
	}
	rep, err := s.cfg.Custody.Verify(r.Context())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	v.Report = &rep
	s.render(w, r, http.StatusOK, "investigate_custody", v)
}
