package goazure

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEveryAnswerNamesTheVersion(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	r := start(t, context.Background(), slowHandler(started, release), WithCommit("0123456789abcdef"), WithRedirectWhileDraining(true))
	wantArtifact := filepath.Base(executable())
	check := func(what string, got result) {
		t.Helper()
		if got.err != nil {
			t.Fatalf("%s: %v", what, got.err)
		}
		if a, c := got.header.Get(ArtifactHeader), got.header.Get(CommitHeader); a != wantArtifact || c != "0123456789abcdef" {
			t.Errorf("%s: %s %q, %s %q; want %q and the commit", what, ArtifactHeader, a, CommitHeader, c, wantArtifact)
		}
	}
	check("an answer", get(r.addr, "/"))
	check("a 404", get(r.addr, "/missing"))

	// A redirect during the hand-over says which version sent it too.
	go get(r.addr, "/slow")
	<-started
	r.switchTo(t, "next.exe")
	time.Sleep(100 * time.Millisecond)
	held := make(chan result, 1)
	go func() { held <- get(r.addr, "/") }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	got := <-held
	if got.status != http.StatusTemporaryRedirect {
		t.Fatalf("the held request: %+v, want a 307", got)
	}
	check("a redirect", got)
}

func TestIdentity(t *testing.T) {
	exe := filepath.Join("site", "wwwroot", TargetDirName, "mysite-0123456789.exe")
	key := []byte(testIdentityKey)
	withKey := func(k string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if k != "" {
			r.Header.Set(IdentityKeyHeader, k)
		}
		return r
	}
	h := http.Header{}
	newIdentity(exe, "abc", "ABCDEF0123456789abcdef0123456789", key).set(h, withKey(testIdentityKey))
	if h.Get(ArtifactHeader) != "mysite-0123456789.exe" || h.Get(CommitHeader) != "abc" || h.Get(InstanceHeader) != "abcdef012345" || h.Get("Vary") != IdentityKeyHeader {
		t.Errorf("headers: %v", h)
	}
	// Without the key, with another key, or on a site with no key: nothing about the version.
	for _, c := range []struct {
		name string
		key  []byte
		sent string
	}{
		{"no key sent", key, ""},
		{"another key", key, "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"},
		{"a prefix of the key", key, testIdentityKey[:32]},
		{"no key on the site", nil, testIdentityKey},
	} {
		h := http.Header{}
		newIdentity(exe, "abc", "abcdef0123456789", c.key).set(h, withKey(c.sent))
		if len(h) != 0 {
			t.Errorf("%s: headers %v, want none", c.name, h)
		}
	}
	// A handler that adds a value does not change what the next answer carries.
	id := newIdentity(exe, "abc", "", key)
	h1, h2 := http.Header{}, http.Header{}
	id.set(h1, withKey(testIdentityKey))
	h1.Add(ArtifactHeader, "other")
	id.set(h2, withKey(testIdentityKey))
	if v := h2.Values(ArtifactHeader); len(v) != 1 || v[0] != "mysite-0123456789.exe" {
		t.Errorf("the next answer carries %q", v)
	}
	// Values a header cannot carry, and unknown ones, are left out. A test binary has no
	// vcs.revision, so without WithCommit there is no commit header.
	h = http.Header{}
	newIdentity("", "bad\r\nX-Injected: 1", "", key).set(h, withKey(testIdentityKey))
	if len(h) != 2 || h.Get("Vary") == "" || h.Get(FeaturesHeader) == "" {
		t.Errorf("headers: %v, want Vary and %s alone", h, FeaturesHeader)
	}
	if buildRevision() == "" {
		h = http.Header{}
		newIdentity(exe, "", "", key).set(h, withKey(testIdentityKey))
		if _, ok := h[CommitHeader]; ok {
			t.Errorf("a commit header without a commit: %v", h)
		}
	}
}

func TestReadIdentityKey(t *testing.T) {
	dir := tempDir(t)
	artifactFile := filepath.Join(dir, ArtifactFileName)
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, IdentityKeyFileName), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if k := readIdentityKey(artifactFile); k != nil {
		t.Errorf("no file: %q", k)
	}
	write(testIdentityKey + "\r\n")
	if k := string(readIdentityKey(artifactFile)); k != testIdentityKey {
		t.Errorf("key %q", k)
	}
	for _, bad := range []string{"short", testIdentityKey[:20] + " " + testIdentityKey[:20], strings.Repeat("a", 257)} {
		write(bad)
		if k := readIdentityKey(artifactFile); k != nil {
			t.Errorf("%q read as key %q", bad, k)
		}
	}
	if k := readIdentityKey(""); k != nil {
		t.Errorf("no artifact file: %q", k)
	}
}

func TestAnswersToStrangersCarryNoIdentity(t *testing.T) {
	t.Setenv("WEBSITE_INSTANCE_ID", "0A1B2C3D4E5F0A1B2C3D4E5F0A1B2C3D4E5F0A1B2C3D4E5F0A1B2C3D4E5F0A1B")
	r := start(t, context.Background(), slowHandler(make(chan struct{}, 1), make(chan struct{})), WithCommit("0123456789abcdef"))
	known := get(r.addr, "/")
	if known.err != nil || known.header.Get(CommitHeader) != "0123456789abcdef" || known.header.Get(InstanceHeader) != "0a1b2c3d4e5f" {
		t.Fatalf("with the key: %+v", known)
	}
	for _, key := range []string{"", "not-the-key-not-the-key-not-the-key-0000"} {
		got := getWithKey(r.addr, "/", key)
		if got.err != nil || got.status != http.StatusOK {
			t.Fatalf("key %q: %+v", key, got)
		}
		for _, name := range []string{ArtifactHeader, CommitHeader, InstanceHeader} {
			if v := got.header.Get(name); v != "" {
				t.Errorf("key %q: the answer carries %s %q", key, name, v)
			}
		}
	}
}

// TestFinish: Shutdown returns its context's error, or an error from closing a listener it still
// tracks (when it runs before Serve has seen the listener closed); only the first is a timeout.
func TestFinish(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := newDrainer(false, identity{})
	other := errors.New("other")
	cases := []struct {
		name     string
		timedOut bool
		err      error
		want     error
	}{
		{"a complete drain", false, nil, nil},
		{"the wait ran out of time", true, nil, ErrDrainTimeout},
		{"Shutdown ran out of time", false, context.DeadlineExceeded, ErrDrainTimeout},
		{"Shutdown failed otherwise", false, other, other},
	}
	for _, c := range cases {
		err := finish(log, time.Now(), c.timedOut, c.err, d)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: finish = %v, want %v", c.name, err, c.want)
		}
		if c.want == other && errors.Is(err, ErrDrainTimeout) {
			t.Errorf("%s: finish = %v, which is ErrDrainTimeout", c.name, err)
		}
	}
}
