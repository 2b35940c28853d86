package caddyjwt

import (
	"errors"
	"net/url"
	"strings"
)

// redactedURLPart stands in for what redactURL removes.
const redactedURLPart = "redacted"

// redactURL returns a URL fit for logs, errors and metric labels. Providers
// and auth services are often reached with a credential in the URL
// (https://user:pass@host/, ?token=..., ?api_key=...), and Caddy's log and
// /metrics are read by more people than the config is. So the user info
// becomes "redacted", every query value becomes "redacted" (names stay:
// they say which parameter was used), and the fragment goes. A URL that
// does not parse is not shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = url.User(redactedURLPart)
	}
	if u.RawQuery != "" {
		pairs := strings.Split(u.RawQuery, "&")
		for i, pair := range pairs {
			name, _, hasValue := strings.Cut(pair, "=")
			switch {
			case hasValue:
				pairs[i] = name + "=" + redactedURLPart
			case pair != "":
				// A bare ?secret is all value.
				pairs[i] = redactedURLPart
			}
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	u.Fragment, u.RawFragment = "", ""
	u.ForceQuery = false
	return u.String()
}

// withoutURL drops the URL that net/http puts into its errors
// (url.Error: `Get "https://user:pass@host/?token=...": ...`), keeping the
// cause. Callers say which URL, redacted, themselves.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
