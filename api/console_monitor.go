package api

import "net/http"

// consoleMonitorRoutes registers the monitors' pages: the dashboard of
// targets and sweeps, a sweep's live progress, and charts.
func (s *Server) consoleMonitorRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", s.page(RoleMonitor, s.consoleHome))
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", nil)
}
