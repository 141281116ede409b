package api

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch/storage"
)

// LinkRequest asks for a share link to one evidence object: a capture's
// object (Capture and Object) or any object by key (Key).
type LinkRequest struct {
	Capture string `json:"capture,omitempty"`
	// Object is the capture's warc (default), manifest, screenshot or dom.
	Object string `json:"object,omitempty"`
	Key    string `json:"key,omitempty"`
	// Expires is how long the link stays valid: a Go duration ("90m",
	// "24h") or whole days ("3d"); default 24h, at most 7 days.
	Expires string `json:"expires,omitempty"`
}

// Kinds of share links.
const (
	// LinkPresigned is an S3 presigned URL: the bucket serves it, and its
	// uses are in the S3 server's access log, not the custody log.
	LinkPresigned = "presigned"
	// LinkSigned is a link this API serves at /links/<token>, each use
	// recorded in the custody log.
	LinkSigned = "signed"
)

// ShareLink is a link that lets anyone holding it read one evidence object
// without an account until Expires.
type ShareLink struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Key     string    `json:"key"`
	Expires time.Time `json:"expires"`
	Kind    string    `json:"kind"`
}

// defaultLinkLifetime is how long a link is valid when the request does not
// say.
const defaultLinkLifetime = 24 * time.Hour

// parseLinkLifetime reads a LinkRequest's Expires.
func parseLinkLifetime(v string) (time.Duration, error) {
	if v == "" {
		return defaultLinkLifetime, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("expires %q: want a duration such as 24h or a number of days such as 3d", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("expires %q: want a duration such as 24h or a number of days such as 3d", v)
		}
	}
	if d < time.Minute || d > storage.MaxLinkLifetime {
		return 0, fmt.Errorf("expires %q: a link lasts from 1m to %s", v, "7d")
	}
	return d, nil
}

// linkKey resolves a LinkRequest to an evidence key; status is the answer
// for err.
func (s *Server) linkKey(r *http.Request, req LinkRequest) (key string, status int, err error) {
	switch {
	case (req.Capture == "") == (req.Key == ""):
		return "", http.StatusBadRequest, errors.New(`give either "capture" (with "object") or "key"`)
	case req.Key != "":
		if req.Object != "" {
			return "", http.StatusBadRequest, errors.New(`"object" goes with "capture", not with "key"`)
		}
		return req.Key, 0, nil
	}
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), req.Capture)
	if errors.Is(err, storage.ErrNotFound) {
		return "", http.StatusNotFound, err
	}
	if err != nil {
		return "", http.StatusInternalServerError, err
	}
	switch req.Object {
	case "", "warc":
		key = rec.WARCKey
	case "manifest":
		key = rec.ManifestKey
	case "screenshot":
		key = rec.ScreenshotKey
	case "dom":
		key = rec.DOMKey
	default:
		return "", http.StatusBadRequest, fmt.Errorf("object %q: want warc, manifest, screenshot or dom", req.Object)
	}
	if key == "" {
		return "", http.StatusNotFound, fmt.Errorf("capture %s was fetched statically: it has no %s", rec.Capture.ID, req.Object)
	}
	return key, 0, nil
}

// createLink answers POST /api/v1/links (LinkRequest) with a ShareLink
// made by shareLink.
func (s *Server) createLink(w http.ResponseWriter, r *http.Request) {
	var req LinkRequest
	if !decodeBody(w, r, &req) {
		return
	}
	lifetime, err := parseLinkLifetime(req.Expires)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	key, status, err := s.linkKey(r, req)
	if status == http.StatusInternalServerError {
		s.internal(w, r, err)
		return
	}
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	link, err := s.shareLink(r, key, lifetime)
	switch {
	case errors.Is(err, errNoLinkKey):
		writeError(w, http.StatusNotImplemented, "this server has no share link key: it cannot make share links for its evidence store")
		return
	case errors.Is(err, errLinkSign):
		s.internal(w, r, err)
		return
	case errors.Is(err, errLinkCustody):
		s.custodyFailed(w, r, err)
		return
	case err != nil:
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, link)
}

// Failures of shareLink other than the evidence store's.
var (
	// errNoLinkKey: the store cannot presign and Config.Links is nil.
	errNoLinkKey = errors.New("no share link key")
	// errLinkSign: signing the link failed.
	errLinkSign = errors.New("signing share link")
	// errLinkCustody: the link was made but its creation could not be
	// recorded, so it must not be given out.
	errLinkCustody = errors.New("recording share link")
)

// shareLink makes a share link to the evidence object key valid for
// lifetime: a presigned URL when the store is a storage.Presigner, else a
// link signed with Config.Links and served at /links/. The object must
// exist. The link's creation is recorded in the custody log (action
// link-create) before it is returned. Errors other than those of the
// store wrap errNoLinkKey, errLinkSign or errLinkCustody.
func (s *Server) shareLink(r *http.Request, key string, lifetime time.Duration) (ShareLink, error) {
	if _, err := s.cfg.Evidence.Stat(r.Context(), key); err != nil {
		return ShareLink{}, err
	}
	link := ShareLink{ID: storage.NewLinkID(), Key: key, Expires: time.Now().UTC().Add(lifetime).Truncate(time.Second)}
	if p, ok := s.cfg.Evidence.(storage.Presigner); ok {
		u, err := p.PresignGet(r.Context(), key, lifetime)
		if err != nil {
			return ShareLink{}, err
		}
		link.URL, link.Kind = u.String(), LinkPresigned
	} else {
		if s.cfg.Links == nil {
			return ShareLink{}, errNoLinkKey
		}
		token, err := s.cfg.Links.Sign(storage.LinkClaims{ID: link.ID, Key: key, Expires: link.Expires})
		if err != nil {
			return ShareLink{}, fmt.Errorf("%w: %w", errLinkSign, err)
		}
		link.URL, link.Kind = s.publicURL(r)+"/links/"+token, LinkSigned
	}
	p := principalFrom(r.Context())
	if _, err := s.cfg.Custody.Append(r.Context(), storage.CustodyEvent{
		Actor: p.Name, Role: p.Role, Action: storage.ActionLinkCreate, Object: key, Remote: r.RemoteAddr, Link: link.ID,
		Detail: link.Kind + " link valid until " + link.Expires.Format(time.RFC3339),
	}); err != nil {
		return ShareLink{}, fmt.Errorf("%w: %w", errLinkCustody, err)
	}
	return link, nil
}

// publicURL is the base of links this API serves.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// useLink answers GET /links/{token}, without a bearer token: the object a
// valid, unexpired signed link names, byte for byte. Each use is recorded
// in the custody log (actor "link", the link's ID) before the object is
// sent. An expired or altered link is a 403 that says which.
func (s *Server) useLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if s.cfg.Links == nil {
		writeError(w, http.StatusNotFound, "this server does not serve share links")
		return
	}
	claims, err := s.cfg.Links.Open(r.PathValue("token"), time.Now())
	switch {
	case errors.Is(err, storage.ErrLinkExpired):
		writeError(w, http.StatusForbidden, "this share link expired at "+claims.Expires.Format(time.RFC3339)+"; ask for a new one")
		return
	case err != nil:
		writeError(w, http.StatusForbidden, "this share link is not valid: it was altered, cut short or not issued by this server")
		return
	}
	cw := &custodyWriter{ResponseWriter: w, record: func(key string) error {
		_, err := s.cfg.Custody.Append(r.Context(), storage.CustodyEvent{
			Actor: storage.CustodyRoleLink, Role: storage.CustodyRoleLink, Action: storage.ActionLinkUse,
			Object: key, Remote: r.RemoteAddr, Link: claims.ID, Detail: methodDetail(r),
		})
		return err
	}, refuse: func(w http.ResponseWriter, err error) { s.custodyFailed(w, r, err) }, fallback: claims.Key}
	s.sendObject(cw, r, claims.Key, path.Base(claims.Key))
}
