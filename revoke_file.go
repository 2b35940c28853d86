package caddyjwt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// revocationFile is the JSON layout of the file store:
//
//	{"revoked_jti": {"<jti>": <exp>}, "subjects": {"<sub>": {"version": N, "not_before": <unix>}}}
//
// Times are Unix seconds. A jti entry is kept until its exp, after which the
// token it denies is expired anyway and `caddy jwt revoke` prunes it.
type revocationFile struct {
	RevokedJTI map[string]int64             `json:"revoked_jti"`
	Subjects   map[string]subjectRevocation `json:"subjects"`
}

// subjectRevocation is what is known about one subject. Absent fields mean
// no version and no logout.
type subjectRevocation struct {
	Version   *int64 `json:"version,omitempty"`
	NotBefore *int64 `json:"not_before,omitempty"`
}

// parseRevocationFile decodes the file store's JSON, refusing anything that
// is not exactly one JSON object (a half-written file must not parse).
func parseRevocationFile(data []byte) (*revocationFile, error) {
	f := new(revocationFile)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	return f, nil
}

func init() {
	caddy.RegisterModule(new(FileStore))
}

// FileStore keeps revocations in a JSON file on this machine (see
// revocationFile for the layout), held in memory and swapped whole when the
// file changes on disk. Requests only load a pointer; they never wait on
// the disk, and answers are not cached.
type FileStore struct {
	// The file's path. `{env.*}` and `{file.*}` placeholders are resolved
	// when the config loads. A file that does not exist yet means nothing
	// is revoked; the first `caddy jwt revoke` creates it. Required.
	Location string `json:"location,omitempty"`

	// How often the file is checked for changes. At least 10ms.
	// Default: 1s.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	path   string
	logger *zap.Logger
	state  atomic.Pointer[revocationFile]

	// seen is the file as last read, good or not; only the watcher
	// goroutine uses it.
	seen struct {
		info fs.FileInfo
		sum  [sha256.Size]byte
	}

	stop context.CancelFunc
	done chan struct{}
}

// defaultReloadInterval is how often the file store looks at its file.
const defaultReloadInterval = time.Second

// CaddyModule returns the Caddy module information.
func (*FileStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt.revocation.file",
		New: func() caddy.Module { return new(FileStore) },
	}
}

// Provision reads the file and starts watching it. A file that exists but
// does not parse fails provisioning, since its revocations would otherwise
// be silently ignored.
func (s *FileStore) Provision(ctx caddy.Context) error {
	if s.ReloadInterval == 0 {
		s.ReloadInterval = caddy.Duration(defaultReloadInterval)
	}
	// Checked here too: the watcher's ticker must not start with it.
	if err := s.Validate(); err != nil {
		return err
	}
	path, err := resolvePlaceholders(s.Location)
	if err != nil {
		return fmt.Errorf("jwt: revocation file %q: %v", s.Location, err)
	}
	if path == "" {
		return fmt.Errorf("jwt: revocation file %q: the location is empty", s.Location)
	}
	s.path = path
	s.logger = ctx.Logger().With(zap.String("path", path))
	s.done = make(chan struct{})
	s.state.Store(&revocationFile{})
	switch loaded, err := s.reload(); {
	case errors.Is(err, fs.ErrNotExist):
		s.logger.Info("revocation file does not exist yet; no token is revoked until it is written")
	case err != nil:
		return fmt.Errorf("jwt: revocation file %s: %v", path, err)
	case loaded:
		s.logLoaded("revocation file loaded")
	}
	var watchCtx context.Context
	watchCtx, s.stop = context.WithCancel(context.Background())
	go s.watch(watchCtx)
	return nil
}

// Validate checks the reload interval.
func (s *FileStore) Validate() error {
	if time.Duration(s.ReloadInterval) < 10*time.Millisecond {
		return errors.New("jwt: revocation reload_interval must be at least 10ms")
	}
	return nil
}

// Cleanup stops watching the file.
func (s *FileStore) Cleanup() error {
	if s.stop != nil {
		s.stop()
		<-s.done
		s.stop = nil
	}
	return nil
}

// CacheKey implements RevocationStore: answers come from memory, faster
// than a cache lookup, and caching them would only delay revocations.
func (s *FileStore) CacheKey(RevocationQuery) (string, bool) { return "", false }

// Lookup implements RevocationStore.
func (s *FileStore) Lookup(_ context.Context, q RevocationQuery) (RevocationFacts, error) {
	state := s.state.Load()
	var f RevocationFacts
	if q.TokenID != "" {
		_, f.TokenDenied = state.RevokedJTI[q.TokenID]
	}
	if q.Subject != "" {
		if sub, ok := state.Subjects[q.Subject]; ok {
			if sub.Version != nil {
				f.HasVersion, f.Version = true, *sub.Version
			}
			if sub.NotBefore != nil {
				f.NotBefore = time.Unix(*sub.NotBefore, 0)
			}
		}
	}
	return f, nil
}

// watch re-reads the file when it changes, until ctx is done.
func (s *FileStore) watch(ctx context.Context) {
	defer close(s.done)
	ticker := time.NewTicker(time.Duration(s.ReloadInterval))
	defer ticker.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		loaded, err := s.reload()
		switch {
		case errors.Is(err, fs.ErrNotExist) && s.seen.info == nil:
			// Still not written: the empty store is right.
		case err != nil:
			// The last good state stays in force: a broken or missing
			// file must never un-revoke anything. Logged once per
			// distinct problem, not every interval.
			if err.Error() != lastErr {
				s.logger.Error("revocation file not reloaded; keeping the revocations loaded before", zap.Error(err))
			}
			lastErr = err.Error()
		case loaded:
			lastErr = ""
			s.logLoaded("revocation file reloaded")
		}
	}
}

// reload reads the file if it changed since it was last read and, if it
// parses, makes it the store's state. It reports whether it did.
//
// A change is seen from the file's identity (the atomic writer's rename
// makes a new file), size and modification time. Since a rewrite in place
// within the file system's timestamp granularity can keep all three, a file
// modified recently is also compared by content.
func (s *FileStore) reload() (bool, error) {
	info, err := os.Stat(s.path)
	if err != nil {
		return false, err
	}
	prev := s.seen.info
	changed := prev == nil || !os.SameFile(prev, info) ||
		info.Size() != prev.Size() || !info.ModTime().Equal(prev.ModTime())
	recent := time.Since(info.ModTime()) < 2*time.Second+2*time.Duration(s.ReloadInterval)
	if !changed && !recent {
		return false, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(data)
	if !changed && sum == s.seen.sum {
		return false, nil
	}
	s.seen.info, s.seen.sum = info, sum
	parsed, err := parseRevocationFile(data)
	if err != nil {
		return false, fmt.Errorf("not valid JSON of the revocation file layout: %v", err)
	}
	s.state.Store(parsed)
	return true, nil
}

func (s *FileStore) logLoaded(msg string) {
	state := s.state.Load()
	s.logger.Info(msg,
		zap.Int("revoked_jti", len(state.RevokedJTI)),
		zap.Int("subjects", len(state.Subjects)))
}

// Interface guards
var (
	_ RevocationStore    = (*FileStore)(nil)
	_ caddy.Provisioner  = (*FileStore)(nil)
	_ caddy.Validator    = (*FileStore)(nil)
	_ caddy.CleanerUpper = (*FileStore)(nil)
)
