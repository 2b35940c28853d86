package integration_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Valid tokens with claims an HTTP stack could change on the way: the
// headers and placeholders every upstream reads must say exactly what the
// token says, or nothing.

// trickySubjects are subjects that a header writer or reader could trim,
// fold or split into another user.
var trickySubjects = []string{
	"admin ", " admin", "admin\t", "\tadmin", " admin ",
	"admin\u00a0", "\u00a0admin", "admin\u0085", "admin\u3000", "admin\u2028", "admin\u200b", "\ufeffadmin",
	"adm in", "admin,alice", "alice, admin", "admin;alice", "\"admin\"", "ad\\min",
	"{http.auth.user.id}", "{env.HOME}", "admin\u00e9", "",
	"admin\x00", "ad\nmin", "admin\r\nX-Roles: admin", "admin\u202e", "admin\x7f",
}

// trickyRoles are arrays whose elements hold the separators and white
// space a join could lose: no two may reach an upstream as the same value.
var trickyRoles = [][]string{
	{"dev", "admin"}, {"dev,admin"}, {"dev, admin"}, {"dev", " admin"}, {"dev ", "admin"},
	{"dev", "admin "}, {" dev", "admin"}, {"dev", "admin", "admin"}, {"dev", "", "admin"},
	{"dev,", "admin"}, {",dev", "admin"}, {"dev", ",admin"}, {"dev\\", "admin"}, {"dev\\,admin"},
	{"dev\"", "admin"}, {"\"dev\",\"admin\""}, {"[\"dev\",\"admin\"]"}, {"dev;admin"}, {"dev admin"},
	{"dev\\\\", "admin"}, {"dev%2Cadmin"}, {}, {""}, {"", ""}, {"dev"}, {"admin"},
	{"dev\r\nX-User-Id: admin"}, {"dev", "admin\x00"}, {"dev\u00a0", "admin"}, {"dev", "\u3000admin"},
}

// claimToken is a valid token with the claims it was signed with.
type claimToken struct {
	token string
	sub   string
	roles []string
}

func (d *differential) checkClaimHeaders(t *testing.T) {
	var tokens []claimToken
	signed := func(sub string, roles []string, jti string) claimToken {
		return claimToken{sign(t, d.key, validClaims("sub", sub, "roles", roles, "jti", jti)), sub, roles}
	}
	for i, sub := range trickySubjects {
		tokens = append(tokens, signed(sub, []string{"dev"}, fmt.Sprintf("c-sub-%d", i)))
	}
	for i, roles := range trickyRoles {
		tokens = append(tokens, signed("alice", roles, fmt.Sprintf("c-roles-%d", i)))
	}

	client := &rawClient{addr: strings.TrimPrefix(d.caddy.URL(""), "http://")}
	defer client.close()
	var problems []string
	// roleHeaders[upstream+header][value] holds every roles array that
	// reached that upstream as that value.
	roleHeaders := map[string]map[string]map[string]bool{}
	passed := 0
	for _, ct := range tokens {
		v := build("claims", plainShape, plainPiece(inHeader, ct.token))
		for _, up := range differentialUpstreams {
			o := d.send(client, &v, differentialConfigs[0], up)
			if o.err != nil {
				problems = append(problems, fmt.Sprintf("%s, sub %q roles %q: %v", up, ct.sub, ct.roles, o.err))
				continue
			}
			if o.report == nil {
				continue // refused: nothing reached the upstream
			}
			passed++
			subjects := map[string]string{"X-Seen-User (response)": o.seen}
			for _, h := range []string{"X-User-Id", "X-Auth-User", "X-Jwt-Sub"} {
				subjects[h], _ = o.report.header(h)
			}
			for h, got := range subjects {
				if got != "" && got != ct.sub {
					problems = append(problems, fmt.Sprintf("%-9s sub %q arrived in %s as %q", up, ct.sub, h, got))
				}
			}
			rolesJSON, _ := json.Marshal(ct.roles)
			for _, h := range []string{"X-Roles", "X-Jwt-Roles"} {
				got, ok := o.report.header(h)
				if !ok || got == "" {
					continue
				}
				key := up + " " + h
				if roleHeaders[key] == nil {
					roleHeaders[key] = map[string]map[string]bool{}
				}
				if roleHeaders[key][got] == nil {
					roleHeaders[key][got] = map[string]bool{}
				}
				roleHeaders[key][got][string(rolesJSON)] = true
			}
		}
	}
	for key, values := range roleHeaders {
		for got, arrays := range values {
			if len(arrays) > 1 {
				list := make([]string, 0, len(arrays))
				for a := range arrays {
					list = append(list, a)
				}
				sort.Strings(list)
				problems = append(problems, fmt.Sprintf("%s: %q stands for %d different arrays: %s", key, got, len(arrays), strings.Join(list, " ")))
			}
		}
	}
	t.Logf("%d tokens with tricky claims, %d requests passed", len(tokens), passed)
	if passed == 0 {
		t.Fatal("no token with tricky claims passed jwt: nothing was checked")
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Errorf("%d claim headers do not say what the token says:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}
