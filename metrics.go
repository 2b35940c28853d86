package caddyjwt

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors are made once per process and registered on each config
// load's registry (Caddy makes a new one per load), as Caddy's own modules
// do. Every label value comes from a fixed set in this package, never from
// request data, so no client can blow up the number of series.
const metricsNamespace, metricsSubsystem = "caddy", "jwt"

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "requests_total",
		Help: "Requests seen by the jwt handler, by result.",
	}, []string{"result"})

	observedRequestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "observed_requests_total",
		Help: "Requests seen by jwt handlers in observe mode, all passed on, by the result enforcing would have had.",
	}, []string{"result"})

	verificationSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name:    "verification_duration_seconds",
		Help:    "Time spent verifying a token (shape, signature, claims), cache hits included.",
		Buckets: []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .01, .1},
	})

	cacheLookupsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "cache_lookups_total",
		Help: "Verified-token cache lookups, by result (hit, miss).",
	}, []string{"result"})

	jwksRefreshesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "jwks_refreshes_total",
		Help: "JWKS fetches, by outcome (updated, not_modified, error).",
	}, []string{"outcome"})

	jwksAgeSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "jwks_age_seconds",
		Help: "Seconds since each configured JWKS was last fetched successfully (-1: never).",
	}, []string{"jwks"})

	revocationLookupsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "revocation_lookups_total",
		Help: "Revocation checks, by outcome (cached, valid, revoked, error).",
	}, []string{"outcome"})
)

// requestsByReason holds the requests counter of each reason, resolved once
// so that counting a request is a single atomic add.
var requestsByReason [reasonCount]prometheus.Counter

// observedByReason is the same for handlers in observe mode, which count
// apart so that requests_total only ever shows what was enforced.
var observedByReason [reasonCount]prometheus.Counter

func init() {
	for r := range reasonCount {
		requestsByReason[r] = requestsTotal.WithLabelValues(reasons[r].metric)
		observedByReason[r] = observedRequestsTotal.WithLabelValues(reasons[r].metric)
	}
}

// registerMetrics adds the collectors to this config load's registry.
func registerMetrics(ctx caddy.Context) error {
	registry := ctx.GetMetricsRegistry()
	if registry == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		requestsTotal, observedRequestsTotal, verificationSeconds, cacheLookupsTotal,
		jwksRefreshesTotal, jwksAgeSeconds, revocationLookupsTotal,
	} {
		if err := registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}
