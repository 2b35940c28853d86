package caddyjwt

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// terminalHandlers are the standard handlers that answer a request without
// passing it on: a jwt handler after one of them, in the same list of
// routes and with nothing in between that can skip it, never runs.
// file_server is terminal unless pass_thru is set.
var terminalHandlers = map[string]bool{
	"reverse_proxy":   true, // also what php_fastcgi expands to
	"static_response": true, // respond, redir
	"file_server":     true,
	"error":           true,
}

// warnIfNeverReached logs a warning when this handler sits after a
// handler that answers every request first, as in
//
//	route {
//		reverse_proxy localhost:9000
//		jwt { … }
//	}
//
// where `route` keeps the written order, so every request reaches the
// upstream without a token check. The handler cannot see the whole config;
// what it can see at provisioning is the chain of modules that loaded it
// (ctx.Modules). When its parent is a subroute (which every Caddyfile site,
// handle and route block is), the subroute's routes are loaded in order,
// so the routes before this handler's own are already set up and the first
// route not yet set up is its own. Anything else (a handler directly in a
// server's routes, another parent module) is not judged: no warning is
// better than a wrong one.
func (h *Handler) warnIfNeverReached(ctx caddy.Context) {
	if by := shadowingHandler(ctx.Modules()); by != "" {
		h.logger.Warn("jwt is never reached: an earlier "+by+" in the same route block answers every request, so requests pass without a token check; put jwt first, or use handle instead of route, which orders directives itself",
			zap.String("shadowed_by", by))
	}
}

// shadowingHandler names the handler that answers every request before the
// last module of lineage (the jwt handler being provisioned) runs, or ""
// when there is none or it cannot be told.
func shadowingHandler(lineage []caddy.Module) string {
	if len(lineage) < 2 {
		return ""
	}
	if _, self := lineage[len(lineage)-1].(*Handler); !self {
		return ""
	}
	parent, ok := lineage[len(lineage)-2].(*caddyhttp.Subroute)
	if !ok {
		return ""
	}
	own := -1
	for i, r := range parent.Routes {
		if r.Handlers == nil && len(r.HandlersRaw) > 0 {
			own = i
			break
		}
	}
	if own < 0 {
		return "" // the subroute's error routes, or an unexpected state
	}
	ownRoute := parent.Routes[own]
	// Handlers before this one in its own route (hand-written JSON; the
	// Caddyfile gives each directive a route of its own).
	for _, raw := range ownRoute.HandlersRaw {
		name, terminal := rawHandlerIsTerminal(raw)
		if name == "jwt" {
			break
		}
		if terminal {
			return name
		}
	}
	for _, r := range parent.Routes[:own] {
		if len(r.MatcherSets) > 0 {
			continue // only some requests are answered there
		}
		if r.Group != "" {
			continue // skipped when another route of its group ran
		}
		for _, handler := range r.Handlers {
			if name, terminal := loadedHandlerIsTerminal(handler); terminal {
				return name
			}
		}
		if r.Terminal {
			return "terminal route"
		}
	}
	return ""
}

// rawHandlerIsTerminal reads a handler's JSON: its name, and whether it
// answers every request itself.
func rawHandlerIsTerminal(raw json.RawMessage) (string, bool) {
	var h struct {
		Handler  string `json:"handler"`
		PassThru bool   `json:"pass_thru"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return "", false
	}
	return h.Handler, terminalHandlers[h.Handler] && !h.PassThru
}

// loadedHandlerIsTerminal is rawHandlerIsTerminal for a handler already
// loaded: its module name, and whether it answers every request, read
// from its config (for file_server's pass_thru).
func loadedHandlerIsTerminal(handler caddyhttp.MiddlewareHandler) (string, bool) {
	mod, ok := handler.(caddy.Module)
	if !ok {
		return "", false
	}
	name := mod.CaddyModule().ID.Name()
	if !terminalHandlers[name] {
		return name, false
	}
	var cfg struct {
		PassThru bool `json:"pass_thru"`
	}
	if raw, err := json.Marshal(handler); err == nil {
		json.Unmarshal(raw, &cfg)
	}
	return name, !cfg.PassThru
}
