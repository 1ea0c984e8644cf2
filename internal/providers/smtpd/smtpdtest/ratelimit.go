package smtpdtest

import "time"

func (s *Server) rateLimited(now time.Time) (retryAfter int, limited bool) {
	if s.cfg.RateLimit <= 0 {
		return 0, false
	}
	cut := now.Add(-time.Second)
	kept := s.window[:0]
	for _, t := range s.window {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	s.window = kept
	if float64(len(s.window)) >= s.cfg.RateLimit {
		return 1, true
	}
	s.window = append(s.window, now)
	return 0, false
}
