package caddyjwt

import (
	"net/http"
	"strings"
)

// unlistClaimHeaders removes the claim headers from the client's Connection
// header and keeps its other options. A header named there is hop-by-hop
// (RFC 9110 §7.6.1): reverse_proxy would delete the claim headers jwt sets,
// and the upstream would see a verified request without its identity.
// Removing the names rather than refusing the request keeps clients that
// send odd Connection headers working.
func (h *Handler) unlistClaimHeaders(header http.Header) {
	lines := header["Connection"]
	kept := lines[:0]
	for _, line := range lines {
		if line = h.withoutClaimHeaderOptions(line); line != "" {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		delete(header, "Connection")
		return
	}
	header["Connection"] = kept
}

// withoutClaimHeaderOptions returns one Connection line without the
// options that name a claim header, matched as reverse_proxy matches them:
// split at commas, trimmed, any case. A line that names none (nearly every
// request's `keep-alive`) is returned as it is, without building anything.
func (h *Handler) withoutClaimHeaderOptions(line string) string {
	if !h.namesClaimHeader(line) {
		return line
	}
	var b strings.Builder
	for option := range strings.SplitSeq(line, ",") {
		option = strings.Trim(option, " \t\r\n")
		if option == "" || h.isClaimHeader(option) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(option)
	}
	return b.String()
}

// namesClaimHeader reports whether an option of a Connection line names a
// claim header.
func (h *Handler) namesClaimHeader(line string) bool {
	for option := range strings.SplitSeq(line, ",") {
		if h.isClaimHeader(strings.Trim(option, " \t\r\n")) {
			return true
		}
	}
	return false
}

func (h *Handler) isClaimHeader(name string) bool {
	for i := range h.headers {
		if strings.EqualFold(name, h.headers[i].header) {
			return true
		}
	}
	return false
}
