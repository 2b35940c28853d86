package caddyjwt

import (
	"strconv"
	"unicode/utf8"
)

// maxLoggedValueBytes caps a value taken from a request or a provider's
// response when it goes into a log line, so that a client cannot make
// Caddy write kilobytes per request.
const maxLoggedValueBytes = 256

// capLogValue returns s, or its first maxLoggedValueBytes bytes (cut at a
// character boundary) marked as truncated with the length it had.
func capLogValue(s string) string {
	if len(s) <= maxLoggedValueBytes {
		return s
	}
	cut := maxLoggedValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated from " + strconv.Itoa(len(s)) + " bytes)"
}
