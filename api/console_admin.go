package api

import "net/http"

// consoleAdminRoutes registers the admins' pages: targets, rule sets,
// users and tokens.
func (s *Server) consoleAdminRoutes(m *http.ServeMux) {}
