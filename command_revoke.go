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
HSET <prefix>sub:<sub> not_before|version.`,
		Example: `  $ caddy jwt revoke --store file --location /var/lib/caddy/revoked.json --jti 3f1c --exp 2030-01-01T00:00:00Z
  $ caddy jwt revoke --store redis --location redis://127.0.0.1:6379/0 --sub alice --logout
  $ caddy jwt revoke --store redis --location redis://127.0.0.1:6379/0 --sub alice --version 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.setVersion = cmd.Flags().Changed("version")
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
		err = c.writeRedis(ctx, o.location, o.prefix)
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

// writeRedis writes the change with the commands an auth service would use,
// in one transaction.
func (c revokeChange) writeRedis(ctx context.Context, location, prefix string) error {
	opts, err := parseRedisLocation(location)
	if err != nil {
		return err
	}
	// Without this, go-redis prints each failed dial on stderr before
	// the command's own error says the same once.
	routeRedisLogs()
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if c.jti != "" {
			p.SetArgs(ctx, prefix+"jti:"+c.jti, "1", redis.SetArgs{ExpireAt: c.exp})
		}
		key := prefix + "sub:" + c.subject
		if !c.notBefore.IsZero() {
			p.HSet(ctx, key, "not_before", c.notBefore.Unix())
		}
		if c.setVersion {
			p.HSet(ctx, key, "version", c.version)
		}
		return nil
	})
	if err != nil {
		// opts.Addr, not the location: the URL may hold a password.
		return fmt.Errorf("redis at %s: %v", opts.Addr, err)
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
