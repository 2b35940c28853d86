package caddyjwt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConnection says how to reach a Redis deployment: standalone,
// Sentinel or Cluster, with its credentials and TLS.
type RedisConnection struct {
	// The deployment, as a URL. `{env.*}` and `{file.*}` placeholders are
	// resolved when the config loads; credentials in it are never logged.
	//
	//	redis://[user:pass@]host:port[/db]      one server (rediss:// for TLS)
	//	unix://[user:pass@]/path/redis.sock[?db=N]
	//	redis+sentinel://[sentinel-user:sentinel-pass@]host:port[/db]?master_name=M&addr=host2:port2&addr=...
	//	redis+cluster://[user:pass@]host:port?addr=host2:port2&addr=...
	//
	// `rediss+sentinel://` and `rediss+cluster://` use TLS. The query
	// parameters are go-redis's (ParseURL, ParseFailoverURL,
	// ParseClusterURL: `dial_timeout`, `read_timeout`, `pool_size`, …;
	// unknown ones are refused), except `skip_verify`, which is refused:
	// use tls_insecure_skip_verify. As with go-redis's Sentinel URLs, the
	// user and password of a sentinel URL are the sentinels'; the
	// master's are the `username` and `password` parameters, or better
	// the fields below. Required.
	Location string `json:"location,omitempty"`

	// The user and password of the Redis server (for Sentinel: of the
	// master and replicas), overriding the URL's. `{env.*}` and
	// `{file.*}` placeholders are resolved when the config loads, and a
	// password so given needs no URL escaping. Default: the URL's.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	// The user and password of the sentinels, overriding the sentinel
	// URL's. Placeholders as for password. Default: the URL's.
	SentinelUsername string `json:"sentinel_username,omitempty"`
	SentinelPassword string `json:"sentinel_password,omitempty"`

	// TLS settings beyond the rediss:// scheme. Default: the system's
	// trusted CAs, no client certificate, the URL's host as server name.
	TLS *RedisTLS `json:"tls,omitempty"`
}

// RedisTLS configures TLS to Redis; it needs a rediss:// location.
type RedisTLS struct {
	// A PEM file of the CA certificates that sign the servers'
	// certificates, for a private CA. Default: the system's trusted CAs.
	CA string `json:"ca,omitempty"`

	// A PEM certificate and its key that the client presents, for mutual
	// TLS. Both or neither. Default: none.
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`

	// The name the server's certificate must carry. Default: the host of
	// the location.
	ServerName string `json:"server_name,omitempty"`

	// Accept any server certificate: anyone on the network path can then
	// read and forge revocation answers. For tests only; logged as an
	// error on every config load. Default: false.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// Timeouts of a Redis connection, unless the URL sets its own. A request
// waits on the lookup, so they are short: a store that cannot answer within
// them is treated as down (see on_error).
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
)

// redisOptions is a parsed location: exactly one of the three is set.
type redisOptions struct {
	simple   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// topology names the kind of deployment, for the log.
func (o *redisOptions) topology() string {
	switch {
	case o.failover != nil:
		return "sentinel"
	case o.cluster != nil:
		return "cluster"
	}
	return "standalone"
}

// addresses names the servers (for Sentinel: the sentinels) for an error
// message, without credentials.
func (o *redisOptions) addresses() string {
	switch {
	case o.failover != nil:
		return "sentinels " + strings.Join(o.failover.SentinelAddrs, ", ") + " (master " + o.failover.MasterName + ")"
	case o.cluster != nil:
		return "cluster " + strings.Join(o.cluster.Addrs, ", ")
	}
	return o.simple.Addr
}

// newClient makes the client. It does not connect; the first command
// dials.
func (o *redisOptions) newClient() redis.UniversalClient {
	routeRedisLogs()
	switch {
	case o.failover != nil:
		return redis.NewFailoverClient(o.failover)
	case o.cluster != nil:
		return redis.NewClusterClient(o.cluster)
	}
	return redis.NewClient(o.simple)
}

// options resolves placeholders and parses the connection. Errors never
// include the URL or a credential.
func (c *RedisConnection) options() (*redisOptions, error) {
	resolve := func(name, v string) (string, error) {
		r, err := resolvePlaceholders(v)
		if err != nil {
			return "", fmt.Errorf("%s: %v", name, err)
		}
		return r, nil
	}
	loc, err := resolve("location", c.Location)
	if err != nil {
		return nil, err
	}
	o, tlsOn, err := parseRedisURL(loc)
	if err != nil {
		return nil, err
	}
	s := o.settings()
	for _, f := range []struct {
		name, value string
		dst         *string
	}{
		{"username", c.Username, s.username},
		{"password", c.Password, s.password},
		{"sentinel_username", c.SentinelUsername, s.sentinelUsername},
		{"sentinel_password", c.SentinelPassword, s.sentinelPassword},
	} {
		if f.value == "" {
			continue
		}
		if f.dst == nil {
			return nil, fmt.Errorf("%s applies to a redis+sentinel:// location only", f.name)
		}
		if *f.dst, err = resolve(f.name, f.value); err != nil {
			return nil, err
		}
	}
	if c.TLS != nil {
		if !tlsOn {
			return nil, errors.New("tls settings need a rediss:// location")
		}
		if *s.tls, err = c.TLS.config(*s.tls); err != nil {
			return nil, err
		}
	}
	s.applyDefaults()
	return o, nil
}

// parseRedisURL reads a location with go-redis's own parsers, after
// mapping the +sentinel and +cluster schemes to the ones they take. It
// reports whether the location asks for TLS.
func parseRedisURL(loc string) (*redisOptions, bool, error) {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return nil, false, errors.New("the location is not a redis URL")
	}
	if u, err := url.Parse(loc); err == nil && u.Query().Has("skip_verify") {
		return nil, false, errors.New("skip_verify is refused in the location; tls_insecure_skip_verify is the explicit switch")
	}
	base, topology, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" && !(base == "unix" && topology == "") {
		return nil, false, fmt.Errorf("the location's scheme %q is not redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster", scheme)
	}
	plain := base + "://" + rest
	o := new(redisOptions)
	var err error
	switch topology {
	case "":
		o.simple, err = redis.ParseURL(plain)
	case "sentinel":
		o.failover, err = redis.ParseFailoverURL(plain)
		if err == nil && o.failover.MasterName == "" {
			err = errors.New("a redis+sentinel:// location needs master_name")
		}
	case "cluster":
		o.cluster, err = redis.ParseClusterURL(plain)
	default:
		err = fmt.Errorf("unknown topology %q in the scheme (sentinel or cluster)", topology)
	}
	if err != nil {
		return nil, false, fmt.Errorf("the location is not a valid redis URL: %v", withoutURL(err))
	}
	return o, base == "rediss", nil
}

// config builds the TLS config over the one go-redis made for rediss://.
func (t *RedisTLS) config(base *tls.Config) (*tls.Config, error) {
	cfg := base.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.MinVersion = tls.VersionTLS12
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificate in it", t.CA)
		}
		cfg.RootCAs = pool
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return nil, errors.New("tls client certificate and key go together")
	}
	if t.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	return cfg, nil
}
