package integration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The differential test: one Caddy with jwt in front of four real
// upstream stacks (Express 4 with cookie-parser, Flask/Werkzeug, PHP 8
// through php_fastcgi, Go's net/http), under three configs, sent generated
// variants of every token location. For every request jwt lets through,
// each upstream must read no token or exactly the one jwt verified, and
// the claim headers it reads must say what that token says.

// differentialSeedEnv changes the seed of the random variants; the
// default is fixed so that CI runs the same requests every time.
const differentialSeedEnv = "CADDYJWT_DIFFERENTIAL_SEED"

// differentialShowEnv, set to part of a variant's name, logs what every
// upstream read for the matching variants.
const differentialShowEnv = "CADDYJWT_DIFFERENTIAL_SHOW"

const differentialRandomVariants = 600

// differentialConfig is one jwt setup, served under /<name>/<upstream>/.
type differentialConfig struct {
	name     string
	optional bool
	strip    bool
}

var differentialConfigs = []differentialConfig{
	{name: "required"},
	{name: "optional", optional: true},
	{name: "strip", optional: true, strip: true},
}

var differentialUpstreams = []string{"express", "flask", "php", "gonethttp"}

// differential is the running setup: Caddy, the upstreams and the tokens.
type differential struct {
	caddy  *caddyProcess
	valid  string // V: alice, signed by the configured key
	forged string // F: admin, signed by an attacker's key
	key    *testKey
	// baseline holds, per upstream, the claim headers it reads for the
	// plain V: what every request authenticated as alice must carry.
	baseline map[string]*upstreamReport
}

const (
	validJTI  = "v-alice"
	forgedJTI = "f-admin"
)

func TestUpstreamsReadOnlyTheTokenJWTVerified(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	d := startDifferential(t)
	t.Run("variants", func(t *testing.T) {
		t.Parallel()
		seed := uint64(1)
		if s := os.Getenv(differentialSeedEnv); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", differentialSeedEnv, s, err)
			}
			seed = n
		}
		t.Logf("random variants from seed %d (set %s to change it)", seed, differentialSeedEnv)
		variants := tableVariants(d.valid, d.forged)
		variants = append(variants, randomVariants(rand.New(rand.NewPCG(seed, 0)), differentialRandomVariants, d.valid, d.forged)...)
		outcomes := d.sendAll(t, variants)
		var findings []finding
		for _, o := range outcomes {
			if show := os.Getenv(differentialShowEnv); show != "" && strings.Contains(o.v.name, show) {
				b, _ := json.Marshal(o.report)
				t.Logf("%s: %s/%s %d %q %v %s", o.v.name, o.cfg.name, o.up, o.status, o.seen, o.err, b)
			}
			findings = append(findings, d.judge(o)...)
		}
		logStatusCounts(t, outcomes)
		d.checkPlainTokens(t) // Caddy and every upstream still answer as at the start
		if len(findings) > 0 {
			t.Errorf("%d problems in %d requests: an upstream read what jwt did not verify, or claim headers other than the token's:\n%s", len(findings), len(outcomes), d.findingTable(findings, outcomes))
		}
	})
	t.Run("claim headers", func(t *testing.T) {
		t.Parallel()
		d.checkClaimHeaders(t)
	})
}

func startDifferential(t *testing.T) *differential {
	t.Helper()
	addrs := map[string]string{
		"express":   startNodeUpstream(t),
		"flask":     startFlaskUpstream(t),
		"php":       startPHP(t),
		"gonethttp": newGoUpstream(t),
	}
	d := &differential{key: newKey(t, "HS256")}
	attacker := newKey(t, "HS256")
	d.valid = sign(t, d.key, validClaims("sub", "alice", "roles", []string{"dev"}, "jti", validJTI))
	d.forged = sign(t, attacker, validClaims("sub", "admin", "roles", []string{"admin"}, "jti", forgedJTI))
	d.caddy = startCaddy(t, differentialCaddyfile(d.key.Secret(), addrs))
	d.baseline = map[string]*upstreamReport{}
	d.checkPlainTokens(t)
	return d
}

// checkPlainTokens proves that the setup sees what it claims to: under
// every config each upstream reads the plain V in every location (none
// with strip_token) and jwt refuses the plain F. The claim headers of the
// plain V in the header become the baseline.
func (d *differential) checkPlainTokens(t *testing.T) {
	t.Helper()
	client := &rawClient{addr: strings.TrimPrefix(d.caddy.URL(""), "http://")}
	defer client.close()
	for _, cfg := range differentialConfigs {
		for _, up := range differentialUpstreams {
			for _, l := range []location{inHeader, inCookie, inQuery} {
				plainV := build("plain V in the "+l.String(), plainShape, plainPiece(l, d.valid))
				o := d.send(client, &plainV, cfg, up)
				readRight := o.report != nil && (cfg.strip && !readsAny(o.report) || !cfg.strip && readsOnly(o.report, l, validJTI))
				if !readRight || o.seen != "alice" {
					t.Fatalf("%s/%s: the plain V in the %s: status %d, user %q, read %s %v", cfg.name, up, l, o.status, o.seen, o.readSummary(), o.err)
				}
				if l == inHeader && cfg.name == "required" && d.baseline[up] == nil {
					d.baseline[up] = o.report
				}
				plainF := build("plain F", plainShape, plainPiece(l, d.forged))
				if f := d.send(client, &plainF, cfg, up); f.status != 401 {
					t.Fatalf("%s/%s: the plain F in the %s got %d, want 401", cfg.name, up, l, f.status)
				}
			}
			if v, ok := d.baseline[up].header("X-User-Id"); !ok || v != "alice" {
				t.Fatalf("%s: X-User-Id for the plain V is %q (present %v), want alice", up, v, ok)
			}
		}
	}
}

// differentialCaddyfile routes /<config>/<upstream>/ through jwt to each
// upstream. Placeholders go upstream in header_up and come back to the
// client in X-Seen-User, the user jwt authenticated.
func differentialCaddyfile(secret string, addrs map[string]string) string {
	var b strings.Builder
	for _, cfg := range differentialConfigs {
		for _, up := range differentialUpstreams {
			fmt.Fprintf(&b, "\thandle /%s/%s/* {\n\t\tjwt {\n\t\t\tsecret %s\n", cfg.name, up, secret)
			b.WriteString("\t\t\tfrom header Authorization Bearer\n\t\t\tfrom cookie " + differentialName + "\n\t\t\tfrom query " + differentialName + "\n")
			b.WriteString("\t\t\tclaim_header sub X-User-Id\n\t\t\tclaim_header roles X-Roles\n")
			if cfg.optional {
				b.WriteString("\t\t\toptional\n")
			}
			if cfg.strip {
				b.WriteString("\t\t\tstrip_token\n")
			}
			b.WriteString("\t\t}\n")
			proxy := "reverse_proxy " + addrs[up]
			if up == "php" {
				fmt.Fprintf(&b, "\t\troot * %s/php\n", differentialDir())
				proxy = "php_fastcgi " + addrs[up]
			}
			b.WriteString("\t\t" + proxy + " {\n" +
				"\t\t\theader_up X-Auth-User {http.auth.user.id}\n" +
				"\t\t\theader_up X-Jwt-Sub {http.auth.jwt.sub}\n" +
				"\t\t\theader_up X-Jwt-Roles {http.auth.jwt.roles}\n" +
				"\t\t\theader_down X-Seen-User {http.auth.user.id}\n\t\t}\n\t}\n")
		}
	}
	// Thousands of refusals are logged at info; keep Caddy's log to what
	// matters when the test fails.
	return caddyfileFor(b.String(), "log {\n\t\tlevel WARN\n\t}")
}

// outcome is what one variant did at one upstream under one config.
type outcome struct {
	v      *variant
	cfg    differentialConfig
	up     string
	status int
	seen   string // X-Seen-User: the user jwt authenticated, "" if none
	report *upstreamReport
	err    error
}

func (d *differential) send(c *rawClient, v *variant, cfg differentialConfig, up string) outcome {
	target := "/" + cfg.name + "/" + up + "/"
	if v.query != "" {
		target += "?" + v.query
	}
	o := outcome{v: v, cfg: cfg, up: up}
	resp, err := c.do(rawRequest{method: v.method, target: target, lines: v.lines})
	if errors.Is(err, errUnreachable) {
		o.err = err
		return o
	}
	if err != nil {
		return o // refused by Caddy's HTTP server: status 0
	}
	o.status, o.seen = resp.status, resp.header.Get("X-Seen-User")
	if resp.status/100 == 2 {
		var rep upstreamReport
		if err := json.Unmarshal(resp.body, &rep); err != nil {
			o.err = fmt.Errorf("no report from the upstream: %v: %.200q", err, resp.body)
		} else {
			o.report = &rep
		}
	}
	return o
}

// sendAll sends every variant to every upstream under every config, from
// a few kept-alive connections at once.
func (d *differential) sendAll(t *testing.T, variants []variant) []outcome {
	type job struct {
		v   *variant
		cfg differentialConfig
		up  string
	}
	var jobs []job
	for i := range variants {
		for _, cfg := range differentialConfigs {
			for _, up := range differentialUpstreams {
				jobs = append(jobs, job{&variants[i], cfg, up})
			}
		}
	}
	outcomes := make([]outcome, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &rawClient{addr: strings.TrimPrefix(d.caddy.URL(""), "http://")}
			defer client.close()
			for i := range next {
				outcomes[i] = d.send(client, jobs[i].v, jobs[i].cfg, jobs[i].up)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d variants, %d requests", len(variants), len(jobs))
	return outcomes
}

// finding is one request whose upstream read differs from what jwt did.
type finding struct {
	o       outcome
	problem string
}

// judge returns what is wrong with one outcome. Requests jwt refused
// reach no upstream and are fine whatever their status.
func (d *differential) judge(o outcome) []finding {
	if o.err != nil {
		return []finding{{o, o.err.Error()}}
	}
	if o.report == nil {
		return nil
	}
	var out []finding
	bad := func(format string, args ...any) { out = append(out, finding{o, fmt.Sprintf(format, args...)}) }
	authenticated := o.seen != ""
	preflight := o.v.method == "OPTIONS"
	switch {
	case authenticated && o.seen != "alice":
		bad("jwt authenticated %q", o.seen)
	case !authenticated && !o.cfg.optional && !preflight:
		bad("passed a required config with no user")
	}
	for l, read := range o.report.tokens() {
		loc := location(l)
		for _, tok := range read {
			if !tok.isToken() {
				continue
			}
			switch {
			case o.cfg.strip:
				bad("strip_token, yet the upstream read %s's token in the %s", tok.Sub, loc)
			case !authenticated:
				bad("anonymous pass, yet the upstream read %s's token in the %s", tok.Sub, loc)
			case tok.JTI != validJTI:
				bad("jwt verified alice, the upstream read %s's token in the %s", tok.Sub, loc)
			}
		}
	}
	for _, h := range differentialClaimHeaders {
		got, ok := o.report.header(h)
		if !authenticated {
			if ok && got != "" {
				bad("anonymous pass, yet the upstream read %s: %q", h, got)
			}
			continue
		}
		want, _ := d.baseline[o.up].header(h)
		if got != want || !ok {
			bad("the upstream read %s: %q (present %v), the plain V gives %q", h, got, ok, want)
		}
	}
	return out
}

// readsOnly reports whether the upstream read the token with jti in the
// location and nothing anywhere else.
func readsOnly(rep *upstreamReport, l location, jti string) bool {
	all := rep.tokens()
	for loc, read := range all {
		for _, tok := range read {
			if tok.JTI != "" && (location(loc) != l || tok.JTI != jti) {
				return false
			}
		}
	}
	return len(all[l]) > 0 && all[l][0].JTI == jti
}

// readsAny reports whether the upstream read any token anywhere.
func readsAny(rep *upstreamReport) bool {
	for _, read := range rep.tokens() {
		for _, tok := range read {
			if tok.isToken() {
				return true
			}
		}
	}
	return false
}
