package caddyjwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// updateRevocationFile applies change to the revocation file at path and
// replaces the file atomically: the new contents go to a temporary file in
// the same directory, which is synced and renamed over the old one, so that
// a reader (the file store's watcher) sees either the old or the new file,
// never a mix. Writers are serialised by a lock on path+".lock", so that two
// concurrent `caddy jwt revoke` runs cannot lose each other's entry. Denied
// jti entries whose token expired before now are pruned.
//
// An existing file that does not parse is left alone and reported: it may
// hold revocations that must not be wiped.
func updateRevocationFile(path string, now time.Time, change func(*revocationFile)) error {
	unlock, err := lockRevocationFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("locking %s: %v", path, err)
	}
	defer unlock()

	f := &revocationFile{}
	mode := fs.FileMode(0o644)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if f, err = parseRevocationFile(data); err != nil {
			return fmt.Errorf("%s is not a valid revocation file, not overwriting it: %v", path, err)
		}
		if info, err := os.Stat(path); err == nil {
			mode = info.Mode().Perm()
		}
	}
	if f.RevokedJTI == nil {
		f.RevokedJTI = make(map[string]int64)
	}
	if f.Subjects == nil {
		f.Subjects = make(map[string]subjectRevocation)
	}
	change(f)
	for jti, exp := range f.RevokedJTI {
		if exp < now.Unix() {
			delete(f.RevokedJTI, jti)
		}
	}

	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomically(path, append(out, '\n'), mode)
}

// writeFileAtomically writes data to a temporary file next to path and
// renames it over path.
func writeFileAtomically(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	// Sync before the rename: otherwise a crash can leave the new name
	// pointing at an empty file.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, and the file is already complete either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
