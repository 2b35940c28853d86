package caddyjwt

import (
	"errors"
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// reject answers a request that may not pass: with the status and
// challenge of its reason, ended by refuse (refusal.go), which hands it to
// handle_errors routes where there are any; the challenge headers set here
// survive into them.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, rsn reason, token *verifiedToken) error {
	info := rsn.info()
	h.requests[rsn].Inc()
	h.logRejection(r, rsn, token)
	if h.observe {
		return errObserved
	}

	if info.status == http.StatusUnauthorized && h.redirect != nil && h.redirect.wants(r) {
		h.redirect.send(w, r)
		return nil
	}
	if info.challenge {
		h.setChallenges(w.Header(), r, info)
	}
	if info.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	return h.refuse(w, r, rsn, info.status)
}

// reasonErrors holds the error of each reason, made once: its text is the
// fixed description, so there is nothing to build per request. The Trace
// is set here because caddyhttp.Error otherwise walks the stack with
// runtime.Caller on every rejection, the largest cost of refusing garbage;
// it still gives each error its own ID.
var reasonErrors = func() (errs [reasonCount]caddyhttp.HandlerError) {
	for r := range reasonCount {
		errs[r] = caddyhttp.HandlerError{
			StatusCode: reasons[r].status,
			Err:        errors.New(reasons[r].description),
			Trace:      "caddyjwt.(*Handler).reject",
		}
	}
	return errs
}()

// logRejection logs a refused request at info, with what is known about the
// token but never the token itself. Values from the request are capped
// (capLogValue), and lines are sampled per reason (rejectionSampler), so
// that a client cannot make Caddy write more than a few hundred bytes per
// refused request, nor a line per request in a flood.
func (h *Handler) logRejection(r *http.Request, rsn reason, token *verifiedToken) {
	msg := "request rejected"
	if h.observe {
		msg = "request would be rejected (observe mode: passed on without identity)"
	}
	// The sampler is asked before the logger makes an entry: a line it
	// holds back then costs nothing more.
	if !h.logger.Core().Enabled(zapcore.InfoLevel) {
		return
	}
	if h.rejectionLog != nil {
		ok, suppressed, since := h.rejectionLog.admit(rsn)
		if !ok {
			return
		}
		if suppressed > 0 {
			h.logger.Info("request rejections not logged",
				zap.String("reason", rsn.info().description),
				zap.String("result", rsn.info().metric),
				zap.Int("suppressed", suppressed),
				zap.Time("since", since))
		}
	}
	c := h.logger.Check(zapcore.InfoLevel, msg)
	if c == nil {
		return
	}
	fields := []zap.Field{
		zap.String("reason", rsn.info().description),
		zap.String("result", rsn.info().metric),
		zap.String("client_ip", clientIP(r)),
		zap.String("method", capLogValue(r.Method)),
		zap.String("uri", capLogValue(r.URL.Path)),
	}
	if token != nil {
		// These were read from the token but may not be verified: they help
		// an operator find the client, nothing more.
		fields = appendNonEmpty(fields, "kid", token.keyID)
		fields = appendNonEmpty(fields, "iss", token.issuer)
		fields = appendNonEmpty(fields, "sub", token.subject)
		fields = appendNonEmpty(fields, "jti", token.tokenID)
	}
	c.Write(fields...)
}

func appendNonEmpty(fields []zap.Field, key, value string) []zap.Field {
	if !loggable(value) || !safeHeaderValue(value) {
		return fields
	}
	return append(fields, zap.String(key, value))
}

// clientIP is the client address as Caddy determined it (honouring
// trusted_proxies), falling back to the connection's peer.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
