package caddyjwt

import (
	"crypto/tls"
	"time"

	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisSettings points at the fields that the three kinds of go-redis
// options share, so that they are set in one place. A nil pointer is a
// field the kind does not have.
type redisSettings struct {
	username, password                 *string
	sentinelUsername, sentinelPassword *string
	tls                                **tls.Config
	dialTimeout, readTimeout           *time.Duration
	writeTimeout, poolTimeout          *time.Duration
	dialerRetries, maxRetries          *int
	disableIdentity                    *bool
	maintNotifications                 **maintnotifications.Config
}

func (o *redisOptions) settings() redisSettings {
	switch {
	case o.failover != nil:
		f := o.failover
		return redisSettings{
			username: &f.Username, password: &f.Password,
			sentinelUsername: &f.SentinelUsername, sentinelPassword: &f.SentinelPassword,
			tls:         &f.TLSConfig,
			dialTimeout: &f.DialTimeout, readTimeout: &f.ReadTimeout,
			writeTimeout: &f.WriteTimeout, poolTimeout: &f.PoolTimeout,
			dialerRetries: &f.DialerRetries, maxRetries: &f.MaxRetries,
			disableIdentity: &f.DisableIdentity,
		}
	case o.cluster != nil:
		c := o.cluster
		return redisSettings{
			username: &c.Username, password: &c.Password,
			tls:         &c.TLSConfig,
			dialTimeout: &c.DialTimeout, readTimeout: &c.ReadTimeout,
			writeTimeout: &c.WriteTimeout, poolTimeout: &c.PoolTimeout,
			dialerRetries: &c.DialerRetries, maxRetries: &c.MaxRetries,
			disableIdentity: &c.DisableIdentity, maintNotifications: &c.MaintNotificationsConfig,
		}
	}
	s := o.simple
	return redisSettings{
		username: &s.Username, password: &s.Password,
		tls:         &s.TLSConfig,
		dialTimeout: &s.DialTimeout, readTimeout: &s.ReadTimeout,
		writeTimeout: &s.WriteTimeout, poolTimeout: &s.PoolTimeout,
		dialerRetries: &s.DialerRetries, maxRetries: &s.MaxRetries,
		disableIdentity: &s.DisableIdentity, maintNotifications: &s.MaintNotificationsConfig,
	}
}

// applyDefaults sets timeouts fit for a request path where the URL did not
// set its own.
func (s redisSettings) applyDefaults() {
	for _, d := range []struct {
		field *time.Duration
		value time.Duration
	}{
		{s.dialTimeout, redisDialTimeout},
		{s.readTimeout, redisIOTimeout},
		{s.writeTimeout, redisIOTimeout},
		{s.poolTimeout, redisPoolTimeout},
	} {
		if *d.field == 0 {
			*d.field = d.value
		}
	}
	// One dial attempt per connection (the client's default is five, 100ms
	// apart, which a waiting request would sit through while Redis is down).
	if *s.dialerRetries == 0 {
		*s.dialerRetries = 1
	}
	// One retry: after a Redis restart or a failover the first command on
	// a pooled connection fails, and a fresh connection then answers. More
	// retries would only make requests wait on a store that is down.
	*s.maxRetries = 1
	// Commands the client would otherwise send on every new connection
	// (CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS) that older servers
	// refuse and that we have no use for.
	*s.disableIdentity = true
	if s.maintNotifications != nil {
		*s.maintNotifications = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}
