package caddyjwt

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver"
)

// TestShadowingHandlerFindsWhatAnswersBeforeJWT: the lineage a subroute
// gives a jwt handler while it is provisioned (the routes before its own
// loaded, its own and later ones still raw) tells whether anything answers
// every request before it.
func TestShadowingHandlerFindsWhatAnswersBeforeJWT(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	jwtRoute := caddyhttp.Route{HandlersRaw: []json.RawMessage{raw(`{"handler":"jwt"}`)}}
	onlySome := caddyhttp.MatcherSets{{caddyhttp.MatchPath{"/health"}}}
	respond := caddyhttp.StaticResponse{}
	for _, tc := range []struct {
		name   string
		routes caddyhttp.RouteList
		want   string
	}{
		{"jwt first", caddyhttp.RouteList{jwtRoute, {HandlersRaw: []json.RawMessage{raw(`{"handler":"reverse_proxy"}`)}}}, ""},
		{"after respond", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{respond}}, jwtRoute}, "static_response"},
		{"after a respond for some paths", caddyhttp.RouteList{{MatcherSets: onlySome, Handlers: []caddyhttp.MiddlewareHandler{respond}}, jwtRoute}, ""},
		{"after file_server", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{&fileserver.FileServer{}}}, jwtRoute}, "file_server"},
		{"after file_server pass_thru", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{&fileserver.FileServer{PassThru: true}}}, jwtRoute}, ""},
		{"after a grouped respond", caddyhttp.RouteList{{Group: "g", Handlers: []caddyhttp.MiddlewareHandler{respond}}, jwtRoute}, ""},
		{"after a terminal route", caddyhttp.RouteList{{Terminal: true, Handlers: []caddyhttp.MiddlewareHandler{&Handler{}}}, jwtRoute}, "terminal route"},
		{"after reverse_proxy in its own route", caddyhttp.RouteList{{HandlersRaw: []json.RawMessage{raw(`{"handler":"reverse_proxy"}`), raw(`{"handler":"jwt"}`)}}}, "reverse_proxy"},
		{"in the error routes", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{respond}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lineage := []caddy.Module{&caddyhttp.Subroute{Routes: tc.routes}, &Handler{}}
			if got := shadowingHandler(lineage); got != tc.want {
				t.Errorf("shadowingHandler = %q, want %q", got, tc.want)
			}
		})
	}
	// A parent that is not a subroute is not judged.
	if got := shadowingHandler([]caddy.Module{&caddyhttp.App{}, &Handler{}}); got != "" {
		t.Errorf("directly under the http app: %q, want no judgement", got)
	}
}
