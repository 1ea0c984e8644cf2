package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckURL refuses a cleartext http:// URL to a host that is not loopback
// (localhost, 127.0.0.0/8, ::1) unless allowInsecure is set: credentials
// sent there cross the network readable by anyone on the path. Any other
// URL passes; checking its form is the caller's job. The error names the
// setting that allows it; callers wrap it with Section.Field for the
// YAML path, as in
//
//	if err := config.CheckURL(cfg.Address, cfg.AllowInsecureHTTP); err != nil {
//		return sec.Field("address", err)
//	}
func CheckURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q", raw)
	}
	if allowInsecure || !strings.EqualFold(u.Scheme, "http") || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%q would send credentials in cleartext to %s, which is not a loopback address: use https, or set allow_insecure_http: true in this section",
		raw, u.Hostname())
}

func isLoopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
