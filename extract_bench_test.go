package caddyjwt

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkTokenLocations measures a request whose valid, cached HS256
// token sits in a cookie among a browser's usual others, or in the query
// string, as BenchmarkServeHTTP does for the Authorization header: reading
// a location is on the path of every request.
func BenchmarkTokenLocations(b *testing.B) {
	fam := benchFamilies(b)[0]
	good := signBench(b, fam, typicalClaims(0))
	config := func(from string) string {
		json := benchHandlerJSON(fam, 0)
		return strings.TrimSuffix(json, "}") + `,"from":[` + from + `]}`
	}
	b.Run("cookie", func(b *testing.B) {
		br := newBenchRequest("")
		br.base.Header.Set("Cookie", "_ga=GA1.2.1234567890.1234567890; theme=dark; lang=en-GB; session="+good+"; consent=yes; _gid=GA1.2.987654321.987654321")
		runBenchRequests(b, newBenchChain(b, config(`{"cookie":"session"}`)), []*benchRequest{br}, http.StatusOK)
	})
	b.Run("query", func(b *testing.B) {
		br := newBenchRequest("")
		br.base.URL.RawQuery = "page=2&sort=asc&access_token=" + good + "&q=shoes"
		runBenchRequests(b, newBenchChain(b, config(`{"query":"access_token"}`)), []*benchRequest{br}, http.StatusOK)
	})
}
