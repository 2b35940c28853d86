package caddyjwt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
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

// fileStore answers from the revocation file's last good contents, held in
// memory and swapped whole when the file changes on disk. Requests only
// load a pointer; they never wait on the disk.
type fileStore struct {
	path     string
	interval time.Duration
	logger   *zap.Logger
	state    atomic.Pointer[revocationFile]

	// seen is the file as last read, good or not; only the watcher
	// goroutine uses it.
	seen struct {
		info fs.FileInfo
		sum  [sha256.Size]byte
	}

	stop context.CancelFunc
	done chan struct{}
}

// openFileStore reads the file and starts watching it. A file that does not
// exist yet is an empty store (the first `caddy jwt revoke` creates it); a
// file that exists but does not parse fails provisioning, since its
// revocations would otherwise be silently ignored.
func (rc *RevocationConfig) openFileStore(logger *zap.Logger) (*fileStore, error) {
	path, err := caddy.NewReplacer().ReplaceOrErr(rc.Location, true, true)
	if err != nil || path == "" {
		return nil, fmt.Errorf("jwt: revocation file %q: %v", rc.Location, err)
	}
	s := &fileStore{
		path:     path,
		interval: time.Duration(rc.ReloadInterval),
		logger:   logger.With(zap.String("path", path)),
		done:     make(chan struct{}),
	}
	s.state.Store(&revocationFile{})
	switch loaded, err := s.reload(); {
	case errors.Is(err, fs.ErrNotExist):
		s.logger.Info("revocation file does not exist yet; no token is revoked until it is written")
	case err != nil:
		return nil, fmt.Errorf("jwt: revocation file %s: %v", path, err)
	case loaded:
		s.logLoaded("revocation file loaded")
	}
	var watchCtx context.Context
	watchCtx, s.stop = context.WithCancel(context.Background())
	go s.watch(watchCtx)
	return s, nil
}

func (s *fileStore) close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

// query implements revocationStore.
func (s *fileStore) query(_ *http.Request, t *verifiedToken) revocationQuery {
	q := revocationQuery{jti: t.tokenID, subject: t.subject}
	if q.jti != "" || q.subject != "" {
		q.key = "file" // not cached; any non-empty key will do
	}
	return q
}

// lookup implements revocationStore.
func (s *fileStore) lookup(_ context.Context, q revocationQuery) (revocationFacts, error) {
	state := s.state.Load()
	var f revocationFacts
	if q.jti != "" {
		_, f.tokenDenied = state.RevokedJTI[q.jti]
	}
	if q.subject != "" {
		if sub, ok := state.Subjects[q.subject]; ok {
			if sub.Version != nil {
				f.hasVersion, f.version = true, *sub.Version
			}
			if sub.NotBefore != nil {
				f.notBefore = time.Unix(*sub.NotBefore, 0)
			}
		}
	}
	return f, nil
}

// watch re-reads the file when it changes, until ctx is done.
func (s *fileStore) watch(ctx context.Context) {
	defer close(s.done)
	ticker := time.NewTicker(s.interval)
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
func (s *fileStore) reload() (bool, error) {
	info, err := os.Stat(s.path)
	if err != nil {
		return false, err
	}
	prev := s.seen.info
	changed := prev == nil || !os.SameFile(prev, info) ||
		info.Size() != prev.Size() || !info.ModTime().Equal(prev.ModTime())
	recent := time.Since(info.ModTime()) < 2*time.Second+2*s.interval
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

func (s *fileStore) logLoaded(msg string) {
	state := s.state.Load()
	s.logger.Info(msg,
		zap.Int("revoked_jti", len(state.RevokedJTI)),
		zap.Int("subjects", len(state.Subjects)))
}

// Interface guard
var _ revocationStore = (*fileStore)(nil)
