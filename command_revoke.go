package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

func init() {
	jwtSubcommands = append(jwtSubcommands, newRevokeCommand)
}

// revokeOptions are the flags of `caddy jwt revoke`.
type revokeOptions struct {
	store    string
	location string
	prefix   string
	jti      string
	exp      string
	subject  string
	logout   bool
	version  int64
	// conn holds the redis store's location, credentials and TLS, read
	// as the revocation block reads them.
	conn RedisConnection
	// channel is where each revocation is published; empty: the
	// prefix followed by "revoked", as the handler's push default.
	channel string
	// setVersion: --version was given (0 is a valid version).
	setVersion bool
}

func newRevokeCommand() *cobra.Command {
	var o revokeOptions
	cmd := &cobra.Command{
		Use:   "revoke --store file|redis --location <path|url> (--jti <id> --exp <time> | --sub <subject> --logout | --sub <subject> --version <n>)",
		Short: "Revokes a token, logs a subject out, or raises a subject's token version",
		Long: `
Writes to the revocation store that the jwt handler reads (the revocation
directive's file or redis store), so that a token is refused from then on
(within the handler's cache time):

  --jti ID --exp TIME    deny this one token; the entry is kept until TIME,
                         the token's exp (Unix seconds or RFC 3339), after
                         which the token is expired anyway
  --sub S --logout       refuse every token of subject S issued before now
  --sub S --version N    refuse every token of subject S whose version claim
                         is lower than N (or missing)

The file store is rewritten atomically (a temporary file renamed over the
old one), under a lock so that concurrent runs do not lose each other's
entries, and expired jti entries are pruned. The redis store is written
with the key layout the handler reads: SET <prefix>jti:<jti> EXAT <exp>,
HSET <prefix>sub:<sub> not_before|version, and each key written is then
published on <prefix>revoked (--channel), so that instances with push
invalidation drop their cached answers at once. The location is any the
revocation directive takes: redis://, rediss://, unix://,
redis+sentinel://…?master_name=M, redis+cluster://….`,
		Example: `  $ caddy jwt revoke --store file --location /var/lib/caddy/revoked.json --jti 3f1c --exp 2030-01-01T00:00:00Z
  $ caddy jwt revoke --store redis --location redis://127.0.0.1:6379/0 --sub alice --logout
  $ caddy jwt revoke --store redis --location redis://127.0.0.1:6379/0 --sub alice --version 4
  $ caddy jwt revoke --store redis --location 'redis+sentinel://10.0.0.1:26379?master_name=main&addr=10.0.0.2:26379' --password '{env.REDIS_PASSWORD}' --sub alice --logout`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.setVersion = cmd.Flags().Changed("version")
			if *o.conn.TLS == (RedisTLS{}) {
				o.conn.TLS = nil
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.store, "store", "file", "the store: file or redis")
	fl.StringVar(&o.location, "location", "", "the file path or redis:// URL, as in the revocation directive")
	fl.StringVar(&o.prefix, "prefix", defaultRedisPrefix, "redis store: the key prefix, as in the revocation block's prefix")
	fl.StringVar(&o.jti, "jti", "", "the jti of the token to deny")
	fl.StringVar(&o.exp, "exp", "", "the denied token's exp: Unix seconds or RFC 3339")
	fl.StringVar(&o.subject, "sub", "", "the subject to log out or whose version to set")
	fl.BoolVar(&o.logout, "logout", false, "refuse the subject's tokens issued before now")
	fl.Int64Var(&o.version, "version", 0, "the subject's new current token version")
	fl.StringVar(&o.channel, "channel", "", "redis store: the push channel, as in the revocation block's push (default: the prefix followed by revoked)")
	fl.StringVar(&o.conn.Username, "username", "", "redis store: the user, overriding the URL's ({env.*} and {file.*} placeholders resolve)")
	fl.StringVar(&o.conn.Password, "password", "", "redis store: the password, overriding the URL's (better {env.*} or {file.*} than the value)")
	fl.StringVar(&o.conn.SentinelUsername, "sentinel-username", "", "redis store: the sentinels' user")
	fl.StringVar(&o.conn.SentinelPassword, "sentinel-password", "", "redis store: the sentinels' password")
	o.conn.TLS = new(RedisTLS)
	fl.StringVar(&o.conn.TLS.CA, "tls-ca", "", "redis store: PEM file of the CA that signs the server certificates")
	fl.StringVar(&o.conn.TLS.ClientCert, "tls-client-cert", "", "redis store: PEM client certificate, for mutual TLS")
	fl.StringVar(&o.conn.TLS.ClientKey, "tls-client-key", "", "redis store: PEM key of the client certificate")
	fl.StringVar(&o.conn.TLS.ServerName, "tls-server-name", "", "redis store: the name the server certificate must carry")
	return cmd
}

// revokeChange is what one run writes, checked and with times resolved.
type revokeChange struct {
	jti        string
	exp        time.Time
	subject    string
	notBefore  time.Time // zero: no logout
	version    int64
	setVersion bool
}

func (o *revokeOptions) change(now time.Time) (revokeChange, error) {
	c := revokeChange{jti: o.jti, subject: o.subject, version: o.version, setVersion: o.setVersion}
	switch {
	case o.location == "":
		return c, errors.New("--location is required")
	case o.jti == "" && o.subject == "":
		return c, errors.New("nothing to do: give --jti and --exp, or --sub with --logout or --version")
	case (o.jti == "") != (o.exp == ""):
		return c, errors.New("--jti and --exp go together: the entry is kept until the token expires")
	case o.subject != "" && !o.logout && !o.setVersion:
		return c, errors.New("--sub needs --logout or --version")
	case o.subject == "" && (o.logout || o.setVersion):
		return c, errors.New("--logout and --version need --sub")
	}
	if o.exp != "" {
		var err error
		if c.exp, err = parseRevokeTime(o.exp); err != nil {
			return c, err
		}
	}
	if o.logout {
		c.notBefore = now.Truncate(time.Second)
	}
	return c, nil
}

// parseRevokeTime reads Unix seconds or an RFC 3339 time.
func parseRevokeTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--exp %q is neither Unix seconds nor an RFC 3339 time", s)
	}
	return t, nil
}

func (o *revokeOptions) run(ctx context.Context, out io.Writer, now time.Time) error {
	c, err := o.change(now)
	if err != nil {
		return err
	}
	// An entry for a token that has expired would deny nothing (the
	// handler refuses it as expired anyway) and is pruned at once. An --exp
	// in the past is far more likely a wrong value, e.g. a copied example
	// time, than a wish to do nothing: say so, and write nothing.
	if c.jti != "" && !c.exp.After(now) {
		return fmt.Errorf("--exp %s is in the past (%s): that token has already expired and a revocation would deny nothing; give the exp of a token that is still valid", o.exp, c.exp.UTC().Format(time.RFC3339))
	}
	switch o.store {
	case "file":
		err = updateRevocationFile(o.location, now, c.applyTo)
	case "redis":
		o.conn.Location = o.location
		err = c.writeRedis(ctx, &o.conn, o.prefix, o.channel)
	default:
		return fmt.Errorf("--store must be file or redis, not %q", o.store)
	}
	if err != nil {
		return err
	}
	c.report(out)
	return nil
}

// applyTo writes the change into the file store's layout.
func (c revokeChange) applyTo(f *revocationFile) {
	if c.jti != "" {
		f.RevokedJTI[c.jti] = c.exp.Unix()
	}
	if c.subject == "" {
		return
	}
	sub := f.Subjects[c.subject]
	if !c.notBefore.IsZero() {
		nb := c.notBefore.Unix()
		sub.NotBefore = &nb
	}
	if c.setVersion {
		v := c.version
		sub.Version = &v
	}
	f.Subjects[c.subject] = sub
}

// writeRedis writes the change with the commands an auth service would
// use, then publishes each key written for the instances that subscribe
// (push invalidation).
//
// The commands go in one pipeline but not in a MULTI/EXEC transaction: the
// jti key and the subject's hash usually hash to different Cluster slots,
// where a transaction is refused (CROSSSLOT). Each command is atomic on its
// own, and each revocation stands alone, so none depends on another.
func (c revokeChange) writeRedis(ctx context.Context, conn *RedisConnection, prefix, channel string) error {
	opts, err := conn.options()
	if err != nil {
		return err
	}
	client := opts.newClient()
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var written []string
	_, err = client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if c.jti != "" {
			key := prefix + "jti:" + c.jti
			p.SetArgs(ctx, key, "1", redis.SetArgs{ExpireAt: c.exp})
			written = append(written, key)
		}
		if c.subject == "" {
			return nil
		}
		key := prefix + "sub:" + c.subject
		if !c.notBefore.IsZero() {
			p.HSet(ctx, key, "not_before", c.notBefore.Unix())
		}
		if c.setVersion {
			p.HSet(ctx, key, "version", c.version)
		}
		written = append(written, key)
		return nil
	})
	if err != nil {
		// The addresses, not the location: the URL may hold a password.
		return fmt.Errorf("redis at %s: %v", opts.addresses(), err)
	}
	if channel == "" {
		channel = defaultPushChannel(prefix)
	}
	for _, key := range written {
		if err := client.Publish(ctx, channel, key).Err(); err != nil {
			return fmt.Errorf("written, but not published on %s (instances with push see it after their cache time): %v", channel, err)
		}
	}
	return nil
}

func (c revokeChange) report(out io.Writer) {
	if c.jti != "" {
		fmt.Fprintf(out, "jti %s: denied until %s\n", c.jti, c.exp.UTC().Format(time.RFC3339))
	}
	if !c.notBefore.IsZero() {
		fmt.Fprintf(out, "sub %s: tokens issued before %s are refused\n", c.subject, c.notBefore.UTC().Format(time.RFC3339))
	}
	if c.setVersion {
		fmt.Fprintf(out, "sub %s: tokens with a version below %d are refused\n", c.subject, c.version)
	}
}
