package api

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

func init() {
	addConsoleFuncs(template.FuncMap{
		// invQuery encodes name, value pairs as a URL query, for links
		// such as /sellers?{{invQuery "target" .T "seller" .S}}.
		"invQuery": func(kv ...string) template.URL {
			q := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					q.Set(kv[i], kv[i+1])
				}
			}
			return template.URL(q.Encode())
		},
		// invOne makes a list of one flag, for the flag table.
		"invOne": func(f wildwatch.Flag) []wildwatch.Flag { return []wildwatch.Flag{f} },
	})
}

// consoleInvestigateRoutes registers the investigators' pages: listing and
// seller search, cases, exports, share links and the custody log.
func (s *Server) consoleInvestigateRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /listings", s.page(RoleInvestigator, s.investigateListings))
	m.HandleFunc("GET /listings/history", s.page(RoleInvestigator, s.investigateHistory))
	m.HandleFunc("GET /sellers", s.page(RoleInvestigator, s.investigateSeller))

	m.HandleFunc("GET /cases", s.page(RoleInvestigator, s.investigateCases))
	m.HandleFunc("POST /cases", s.page(RoleInvestigator, s.investigateCreateCase))
	m.HandleFunc("GET /cases/add", s.page(RoleInvestigator, s.investigateAddPage))
	m.HandleFunc("POST /cases/add", s.page(RoleInvestigator, s.investigateAddSubmit))
	m.HandleFunc("GET /cases/{id}", s.page(RoleInvestigator, s.investigateCase))
	m.HandleFunc("POST /cases/{id}", s.page(RoleInvestigator, s.investigateSaveCase))
	m.HandleFunc("POST /cases/{id}/flags", s.page(RoleInvestigator, s.investigateAddFlags))
	m.HandleFunc("POST /cases/{id}/flags/remove", s.page(RoleInvestigator, s.investigateRemoveFlag))
	m.HandleFunc("POST /cases/{id}/delete", s.page(RoleInvestigator, s.investigateDeleteCase))
	m.HandleFunc("POST /cases/{id}/export", s.page(RoleInvestigator, s.investigateExport))

	m.HandleFunc("GET /bundles/{id}", s.page(RoleInvestigator, s.logged(storage.ActionExport, s.getBundle)))
	m.HandleFunc("POST /bundles/{id}/link", s.page(RoleInvestigator, s.investigateShareLink))

	m.HandleFunc("GET /custody", s.page(RoleInvestigator, s.investigateCustody))
	m.HandleFunc("GET /custody/verify", s.page(RoleAdmin, s.investigateVerifyCustody))
}

// investigatePageSize is how many rows a search page shows.
const investigatePageSize = 50

// pageParam reads the 1-based page number of a request; 1 when absent or
// not a number.
func pageParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// listingsView is the data of the listing search.
type listingsView struct {
	Q, Target, Platform, Status string
	Flagged                     bool
	Targets                     []string
	Platforms                   []string
	Results                     []storage.ListingMatch
	Page                        int
	More                        bool
	Searched                    bool
}

func (s *Server) investigateListings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := listingsView{Q: strings.TrimSpace(q.Get("q")), Target: q.Get("target"), Platform: q.Get("platform"),
		Status: q.Get("status"), Flagged: q.Get("flagged") != "", Page: pageParam(r)}
	if v.Status != wildwatch.ListingActive && v.Status != wildwatch.ListingRemoved {
		v.Status = ""
	}
	ctx := r.Context()
	targets, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	for _, t := range targets {
		v.Targets = append(v.Targets, t.Name)
	}
	if v.Platforms, err = s.cfg.Catalog.ListingPlatforms(ctx); err != nil {
		s.consoleError(w, r, err)
		return
	}
	v.Searched = v.Q != "" || v.Target != "" || v.Platform != "" || v.Status != "" || v.Flagged
	res, err := s.cfg.Catalog.SearchListings(ctx, storage.ListingQuery{Text: v.Q, Target: v.Target, Platform: v.Platform,
		State: v.Status, FlaggedOnly: v.Flagged, Limit: investigatePageSize + 1, Offset: (v.Page - 1) * investigatePageSize})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if len(res) > investigatePageSize {
		res, v.More = res[:investigatePageSize], true
	}
	v.Results = res
	s.render(w, r, http.StatusOK, "investigate_listings", v)
}

// sellerView is the data of a seller's page.
type sellerView struct {
	Target, Seller string
	Platform       string
	Here           []storage.ListingMatch
	Elsewhere      []storage.ListingMatch
	Flags          []wildwatch.Flag
	Cases          []storage.Case
	Categories     []string
	FirstSeen      time.Time
	LastSeen       time.Time
}

func (s *Server) investigateSeller(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := sellerView{Target: q.Get("target"), Seller: strings.TrimSpace(q.Get("seller"))}
	if v.Seller == "" {
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "investigate.seller_missing"))
		return
	}
	ctx := r.Context()
	var err error
	if v.Here, err = s.cfg.Catalog.SearchListings(ctx, storage.ListingQuery{Target: v.Target, Seller: v.Seller, Limit: 1000}); err != nil {
		s.consoleError(w, r, err)
		return
	}
	if v.Target != "" {
		if v.Elsewhere, err = s.cfg.Catalog.SearchListings(ctx, storage.ListingQuery{ExcludeTarget: v.Target, Seller: v.Seller, Limit: 1000}); err != nil {
			s.consoleError(w, r, err)
			return
		}
	}
	if v.Flags, err = s.cfg.Catalog.SearchFlags(ctx, storage.FlagQuery{Target: v.Target, Seller: v.Seller, Limit: 1000}); err != nil {
		s.consoleError(w, r, err)
		return
	}
	if v.Cases, err = s.cfg.Catalog.ListCases(ctx); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seen := map[string]bool{}
	for _, m := range v.Here {
		if v.Platform == "" {
			v.Platform = m.Listing.Platform
		}
		for _, c := range m.Categories {
			if !seen[c] {
				seen[c] = true
				v.Categories = append(v.Categories, c)
			}
		}
	}
	if len(v.Here) > 0 {
		first, last := v.Here[0].Status.FirstSeen, v.Here[0].Status.LastSeen
		for _, m := range v.Here {
			if m.Status.FirstSeen.Before(first) {
				first = m.Status.FirstSeen
			}
			if m.Status.LastSeen.After(last) {
				last = m.Status.LastSeen
			}
		}
		v.FirstSeen, v.LastSeen = first, last
	}
	s.render(w, r, http.StatusOK, "investigate_seller", v)
}

// historyView is the data of one listing's history.
type historyView struct {
	Status   *wildwatch.ListingStatus
	URL      string
	Target   string
	Captures []storage.CaptureRecord
	Flags    map[string]wildwatch.Flag // capture ID → its flag
}

func (s *Server) investigateHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := historyView{URL: q.Get("url"), Target: q.Get("target"), Flags: map[string]wildwatch.Flag{}}
	if v.URL == "" {
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "investigate.url_missing"))
		return
	}
	ctx := r.Context()
	if v.Target != "" {
		st, err := s.cfg.Catalog.GetListing(ctx, v.Target, v.URL)
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		v.Status = &st
	}
	recs, err := s.cfg.Catalog.ListingHistory(ctx, v.Target, v.URL)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if len(recs) == 0 {
		s.consoleFail(w, r, http.StatusNotFound, s.tr(r, "error.not_found"))
		return
	}
	// Newest first: the latest state is what people look for.
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	v.Captures = recs
	flags, err := s.cfg.Catalog.SearchFlags(ctx, storage.FlagQuery{URL: v.URL, Target: v.Target, Limit: 1000})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	for _, f := range flags {
		v.Flags[f.CaptureID] = f
	}
	s.render(w, r, http.StatusOK, "investigate_history", v)
}
