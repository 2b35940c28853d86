package integration_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentRequestsKeepTheirOwnIdentity: many clients at once, half
// with valid tokens for different users, half forged; every answer and
// every header the upstream sees belongs to its own request.
func TestConcurrentRequestsKeepTheirOwnIdentity(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	hs, es := newKey(t, "HS256"), newKey(t, "ES256")
	forger := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*",
		"secret "+hs.Secret()+"\npublic_key "+es.writePublicKeyPEM(t)+"\nclaim_header sub X-User-Id",
		"reverse_proxy "+up.Addr()+" {\n\t\t\theader_up X-Placeholder {http.auth.jwt.sub}\n\t\t}")))

	// Per worker, requests alternate HS256, ES256 and two forged ones.
	const workers, perWorker = 8, 24
	type attempt struct {
		user, token string
		want        int
	}
	// Per worker, requests alternate HS256, ES256 and two forged ones;
	// tokens are signed up front, on the test's goroutine.
	var plan [workers][perWorker]attempt
	valid := 0
	for w := range workers {
		for i := range perWorker {
			user := fmt.Sprintf("user-%d-%d", w, i)
			key, want := hs, http.StatusOK
			switch i % 4 {
			case 1:
				key = es
			case 2, 3:
				key, want = forger, http.StatusUnauthorized
			}
			if want == http.StatusOK {
				valid++
			}
			plan[w][i] = attempt{user, sign(t, key, validClaims("sub", user)), want}
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range plan[w] {
				req, _ := http.NewRequest(http.MethodGet, c.URL("/"+a.user), nil)
				req.Header.Set("Authorization", "Bearer "+a.token)
				req.Header.Set("X-User-Id", "spoofed")
				resp, err := testClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != a.want {
					errs <- fmt.Errorf("%s: status %d, want %d", a.user, resp.StatusCode, a.want)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	reqs := up.Requests()
	if len(reqs) != valid {
		t.Errorf("upstream got %d requests, want %d (the valid ones)", len(reqs), valid)
	}
	for _, r := range reqs {
		user := r.URI[1:]
		if got := r.Header.Values("X-User-Id"); len(got) != 1 || got[0] != user {
			t.Errorf("request for %s carried X-User-Id %q", user, got)
		}
		if got := r.Header.Get("X-Placeholder"); got != user {
			t.Errorf("request for %s carried {http.auth.jwt.sub} %q", user, got)
		}
	}
}
