package caddyjwt

import (
	"net/http"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// refusalPath is how the handler ends a refused request, worked out on the
// first refusal (the handler belongs to one server of one config, so the
// answer never changes). A plain word read atomically rather than an
// atomic.Uint32, which may not be copied: Handler values are (CaddyModule
// has a value receiver, as Caddy's modules do).
type refusalPath struct{ state uint32 }

const (
	refusalUndecided uint32 = iota
	// refusalWritten: nothing would handle the error but Caddy writing
	// its status, so the handler writes it.
	refusalWritten
	// refusalReturned: the error goes to Caddy, for error routes.
	refusalReturned
)

// refuse ends a refused request with status. When error routes could see
// the refusal (the server's handle_errors, or the errors of a subroute
// around the handler), it is returned to Caddy as a caddyhttp.Error, so
// that they render it. Without any, Caddy would only write the status;
// the handler then writes it itself, because Caddy's error path first
// encodes the whole request for a debug log line and copies the request
// for the error placeholders, which made refusing a forged token dearer
// than serving a genuine one. A 5xx always goes to Caddy, which logs it
// as an error.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, rsn reason, status int) error {
	if status < http.StatusInternalServerError && h.refusals.written(r, h) {
		w.WriteHeader(status)
		return nil
	}
	return caddyhttp.Error(status, reasonErrors[rsn])
}

func (p *refusalPath) written(r *http.Request, h *Handler) bool {
	switch atomic.LoadUint32(&p.state) {
	case refusalWritten:
		return true
	case refusalReturned:
		return false
	}
	decided := refusalReturned
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv != nil && !hasErrorRoutes(srv.Errors) && reachedWithoutErrorRoutes(srv.Routes, h) {
		decided = refusalWritten
	}
	atomic.StoreUint32(&p.state, decided)
	return decided == refusalWritten
}

func hasErrorRoutes(errs *caddyhttp.HTTPErrorConfig) bool {
	return errs != nil && len(errs.Routes) > 0
}

// reachedWithoutErrorRoutes reports whether h is one of the handlers of
// routes, directly or inside subroutes none of which has error routes. A
// handler found nowhere (in a named route, say) is not: its refusals go to
// Caddy, as they always did.
func reachedWithoutErrorRoutes(routes caddyhttp.RouteList, h *Handler) bool {
	for _, route := range routes {
		for _, mh := range route.Handlers {
			switch mh := mh.(type) {
			case *Handler:
				if mh == h {
					return true
				}
			case *caddyhttp.Subroute:
				if !hasErrorRoutes(mh.Errors) && reachedWithoutErrorRoutes(mh.Routes, h) {
					return true
				}
			}
		}
	}
	return false
}
