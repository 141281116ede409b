package api

import "net/http"

// consoleInvestigateRoutes registers the investigators' pages: listing and
// seller search, cases, exports, share links and the custody log.
func (s *Server) consoleInvestigateRoutes(m *http.ServeMux) {}
