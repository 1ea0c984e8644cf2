package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
)

// probe is a consumer: every 100 ms it reads every sink file and asks the
// test server whether the credential found there is valid right now. A
// missing file before the first rotation is not an outage; a file holding
// a credential the provider rejects is one (confirmed by reading the file
// again after the rejection, so that a file replaced between the read and
// the check does not count). It also watches the providers' key lists to
// time every revocation against the moment the last sink let go of the key.
type probe struct {
	w       *world
	targets []probeTarget
	stop    chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	reads   int
	outages []string
	// held is when each key id was last seen in a sink; live when it was
	// last seen alive at its provider; revoked when it was first seen gone.
	held    map[string]time.Time
	live    map[string]time.Time
	revoked map[string]time.Time
	// allowMissing names files a fault test removes on purpose.
	allowMissing map[string]bool
	seen         map[string]bool
}

type probeTarget struct {
	sink, file, provider string
	parse                func([]byte) (providers.Credential, string, error)
	valid                func(providers.Credential) bool
}

func (w *world) startProbe(t *testing.T) *probe {
	p := &probe{w: w, stop: make(chan struct{}), done: make(chan struct{}),
		held: map[string]time.Time{}, live: map[string]time.Time{}, revoked: map[string]time.Time{},
		allowMissing: map[string]bool{}, seen: map[string]bool{}}
	p.targets = []probeTarget{
		{"out", "mail.json", "smtpd", parseJSON("key", "secret"), w.smtpd.Valid},
		{"backup", "mail.env", "smtpd", parseEnv("key", "secret"), w.smtpd.Valid},
		{"out", "news.json", "emailit", parseJSON("EMAILIT_API_KEY"), func(c providers.Credential) bool {
			return w.emailit.Valid(providers.Credential{"api_key": c["EMAILIT_API_KEY"]})
		}},
	}
	go p.loop()
	t.Cleanup(p.close)
	return p
}

func (p *probe) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *probe) loop() {
	defer close(p.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		p.once()
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

func (p *probe) once() {
	now := time.Now()
	for _, tg := range p.targets {
		path := p.w.sinkPath(tg.sink, tg.file)
		b, err := os.ReadFile(path)
		name := tg.sink + "/" + tg.file
		p.mu.Lock()
		allow, seen := p.allowMissing[name], p.seen[name]
		p.mu.Unlock()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || (err != nil && allow) {
			if seen && !allow {
				p.outage(now, "%s vanished", name)
			}
			continue
		}
		if err != nil {
			if !allow {
				p.outage(now, "%s unreadable: %v", name, err)
			}
			continue
		}
		cred, id, err := tg.parse(b)
		if err != nil {
			p.outage(now, "%s does not parse: %v", name, err)
			continue
		}
		ok := tg.valid(cred)
		if !ok {
			again, _ := os.ReadFile(path)
			if bytes.Equal(again, b) {
				p.outage(now, "%s holds key %s, which %s rejects", name, id, tg.provider)
			}
		}
		p.mu.Lock()
		p.reads++
		p.seen[name] = true
		p.held[tg.provider+"/"+id] = now
		p.mu.Unlock()
	}
	live := p.w.liveKeys()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range live {
		p.live[id] = now
	}
	for id := range p.live {
		if _, ok := live[id]; !ok {
			if _, done := p.revoked[id]; !done {
				p.revoked[id] = now
			}
		}
	}
}

func (p *probe) outage(now time.Time, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outages = append(p.outages, now.Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

// allowMissingFile tells the probe that a fault test removes a file.
func (p *probe) allowMissingFile(name string, allow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowMissing[name] = allow
}

// report is what the probe saw.
type report struct {
	reads   int
	outages []string
	// revocationDelays is, for every key a sink held and that is revoked,
	// the time from the last read that found it in a sink to its
	// revocation.
	revocationDelays map[string]time.Duration
	// unrevoked are keys no sink has held for longer than the bound given
	// to summary, yet still alive.
	unrevoked []string
}

// summary stops nothing; it reads what the probe saw so far. A key that
// left every sink more than bound ago must be revoked by now.
func (p *probe) summary(bound time.Duration) report {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := report{reads: p.reads, outages: append([]string(nil), p.outages...), revocationDelays: map[string]time.Duration{}}
	now := time.Now()
	latest := map[string]time.Time{} // provider → latest held time
	for id, t := range p.held {
		prov, _, _ := strings.Cut(id, "/")
		if t.After(latest[prov]) {
			latest[prov] = t
		}
	}
	for id, t := range p.held {
		prov, _, _ := strings.Cut(id, "/")
		if t.Equal(latest[prov]) {
			continue // still in a sink
		}
		if rt, ok := p.revoked[id]; ok {
			r.revocationDelays[id] = rt.Sub(t)
		} else if now.Sub(t) > bound {
			r.unrevoked = append(r.unrevoked, fmt.Sprintf("%s (left the sinks %s ago)", id, now.Sub(t).Round(time.Millisecond)))
		}
	}
	sort.Strings(r.unrevoked)
	return r
}

func (r report) maxDelay() time.Duration {
	var m time.Duration
	for _, d := range r.revocationDelays {
		m = max(m, d)
	}
	return m
}

func parseJSON(fields ...string) func([]byte) (providers.Credential, string, error) {
	return func(b []byte) (providers.Credential, string, error) {
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, "", errors.New("not a json object of strings")
		}
		return pick(m, fields)
	}
}

func parseEnv(fields ...string) func([]byte) (providers.Credential, string, error) {
	return func(b []byte) (providers.Credential, string, error) {
		m, err := decodeEnv(string(b))
		if err != nil {
			return nil, "", err
		}
		return pick(m, fields)
	}
}

func pick(m map[string]string, fields []string) (providers.Credential, string, error) {
	cred := providers.Credential{}
	for _, f := range fields {
		if m[f] == "" {
			return nil, "", fmt.Errorf("field %s is missing or empty", f)
		}
		cred[f] = m[f]
	}
	if m["key_id"] == "" {
		return nil, "", errors.New("key_id is missing")
	}
	return cred, m["key_id"], nil
}

// decodeEnv reads NAME=value lines as sh would: values are plain runs,
// 'single-quoted' runs and backslash escapes (the consumer's view, written
// independently of the file sink's decoder).
func decodeEnv(s string) (map[string]string, error) {
	out := map[string]string{}
	for s != "" {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line = s[:i]
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			s = s[len(line):]
			s = strings.TrimPrefix(s, "\n")
			continue
		}
		name, rest, ok := strings.Cut(s, "=")
		if !ok || strings.ContainsAny(name, "\n ") {
			return nil, errors.New("expected NAME=value")
		}
		var v strings.Builder
		i := 0
	value:
		for i < len(rest) {
			switch c := rest[i]; c {
			case '\n':
				i++
				break value
			case '\'':
				j := strings.IndexByte(rest[i+1:], '\'')
				if j < 0 {
					return nil, errors.New("unterminated quote")
				}
				v.WriteString(rest[i+1 : i+1+j])
				i += j + 2
			case '\\':
				if i+1 < len(rest) {
					v.WriteByte(rest[i+1])
				}
				i += 2
			default:
				v.WriteByte(c)
				i++
			}
		}
		out[name] = v.String()
		s = rest[min(i, len(rest)):]
	}
	return out, nil
}
