package caddyjwt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// openTestFileStore opens a file store on path, checked every interval and
// stopped at the end of the test. Tests that call reload themselves pass
// an hour, so that the watcher never runs beside them.
func openTestFileStore(t *testing.T, path string, interval time.Duration) *FileStore {
	t.Helper()
	return provisionStore(t, &FileStore{Location: path, ReloadInterval: caddy.Duration(interval)})
}

// waitForFacts polls the store until pred holds for q's facts.
func waitForFacts(t *testing.T, s *FileStore, q RevocationQuery, what string, pred func(RevocationFacts) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, _ := s.Lookup(t.Context(), q)
		if pred(f) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store never saw %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func denyJTI(t *testing.T, path, jti string) {
	t.Helper()
	err := updateRevocationFile(path, time.Now(), func(f *revocationFile) {
		f.RevokedJTI[jti] = time.Now().Add(time.Hour).Unix()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileStoreStartsEmptyAndPicksUpTheFileWhenWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	s := openTestFileStore(t, path, 20*time.Millisecond)
	if f, _ := s.Lookup(t.Context(), RevocationQuery{TokenID: "a"}); f.TokenDenied {
		t.Fatal("denied before anything was written")
	}
	denyJTI(t, path, "a")
	waitForFacts(t, s, RevocationQuery{TokenID: "a"}, "jti a denied", func(f RevocationFacts) bool { return f.TokenDenied })
}

func TestFileStoreReadsSubjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	os.WriteFile(path, []byte(`{"revoked_jti": {}, "subjects": {"alice": {"version": 3, "not_before": 1700000000}, "bob": {"version": 0}}}`), 0o644)
	s := openTestFileStore(t, path, time.Hour)
	f, _ := s.Lookup(t.Context(), RevocationQuery{Subject: "alice"})
	if !f.HasVersion || f.Version != 3 || f.NotBefore.Unix() != 1700000000 {
		t.Errorf("alice: got %+v", f)
	}
	if f, _ := s.Lookup(t.Context(), RevocationQuery{Subject: "bob"}); !f.HasVersion || f.Version != 0 || !f.NotBefore.IsZero() {
		t.Errorf("bob (version 0 is a version): got %+v", f)
	}
}

func TestFileStoreKeepsTheLastGoodStateWhenTheFileBreaks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	denyJTI(t, path, "a")
	s := openTestFileStore(t, path, time.Hour)
	q := RevocationQuery{TokenID: "a"}
	if f, _ := s.Lookup(t.Context(), q); !f.TokenDenied {
		t.Fatal("jti a not denied after load")
	}
	good, _ := os.ReadFile(path)
	for name, broken := range map[string][]byte{
		"half written":   good[:len(good)/2],
		"empty":          {},
		"not the layout": []byte(`{"revoked": ["a"]}`),
		"two objects":    append(append([]byte{}, good...), good...),
	} {
		if err := os.WriteFile(path, broken, 0o644); err != nil {
			t.Fatal(err)
		}
		if loaded, err := s.reload(); loaded || err == nil {
			t.Errorf("%s file: loaded=%v err=%v, want an error", name, loaded, err)
		}
		if f, _ := s.Lookup(t.Context(), q); !f.TokenDenied {
			t.Fatalf("%s file wiped the loaded revocation of jti a", name)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.reload(); err == nil {
		t.Error("a removed file reloaded without error")
	}
	if f, _ := s.Lookup(t.Context(), q); !f.TokenDenied {
		t.Fatal("removing the file wiped the loaded revocation of jti a")
	}
	// A good file written after the broken ones is picked up.
	denyJTI(t, path, "b")
	if loaded, err := s.reload(); !loaded || err != nil {
		t.Fatalf("good file: loaded=%v err=%v", loaded, err)
	}
	if f, _ := s.Lookup(t.Context(), RevocationQuery{TokenID: "b"}); !f.TokenDenied {
		t.Error("jti b of the repaired file not denied")
	}
}

func TestFileStoreSeesARewriteWithTheSameSizeAndTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	os.WriteFile(path, []byte(`{"revoked_jti": {"aaaa": 4102444800}, "subjects": {}}`), 0o644)
	info, _ := os.Stat(path)
	s := openTestFileStore(t, path, time.Hour)
	// In place, same length, same mtime: only the content differs, as
	// with a rewrite within a coarse file system's timestamp granularity.
	os.WriteFile(path, []byte(`{"revoked_jti": {"bbbb": 4102444800}, "subjects": {}}`), 0o644)
	os.Chtimes(path, info.ModTime(), info.ModTime())
	if loaded, err := s.reload(); !loaded || err != nil {
		t.Fatalf("loaded=%v err=%v, want the rewrite loaded", loaded, err)
	}
	if f, _ := s.Lookup(t.Context(), RevocationQuery{TokenID: "bbbb"}); !f.TokenDenied {
		t.Error("jti bbbb not denied")
	}
	if loaded, _ := s.reload(); loaded {
		t.Error("an unchanged file was loaded again")
	}
}

func TestFileStoreFailsProvisionOnACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	os.WriteFile(path, []byte(`{"revoked_jti": {"a": 1`), 0o644)
	_, _, err := provisionRevocation(t, RevocationConfig{}, &FileStore{Location: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func TestUpdateRevocationFilePrunesExpiredAndKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	now := time.Now()
	err := updateRevocationFile(path, now, func(f *revocationFile) {
		f.RevokedJTI["old"] = now.Add(-time.Minute).Unix()
		f.RevokedJTI["live"] = now.Add(time.Minute).Unix()
		v := int64(2)
		f.Subjects["alice"] = subjectRevocation{Version: &v}
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	f, err := parseRevocationFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.RevokedJTI["old"]; ok {
		t.Error("expired jti kept")
	}
	if _, ok := f.RevokedJTI["live"]; !ok {
		t.Error("live jti lost")
	}
	if v := f.Subjects["alice"].Version; v == nil || *v != 2 {
		t.Error("subject version lost")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 2 { // the file and its lock
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestUpdateRevocationFileRefusesToOverwriteACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	corrupt := []byte(`{"revoked_jti": {"keep-me": 4102444800`)
	os.WriteFile(path, corrupt, 0o644)
	err := updateRevocationFile(path, time.Now(), func(f *revocationFile) { f.RevokedJTI["x"] = 4102444800 })
	if err == nil {
		t.Fatal("overwrote a corrupt file")
	}
	if data, _ := os.ReadFile(path); string(data) != string(corrupt) {
		t.Error("the corrupt file was changed")
	}
}

func TestFileStoreWatcherStopsOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	_, stop, err := provisionRevocation(t, RevocationConfig{}, &FileStore{Location: path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not stop the watcher")
	}
}
