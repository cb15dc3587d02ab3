package goazure

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
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
	h := http.Header{}
	newIdentity(exe, "abc").set(h)
	if h.Get(ArtifactHeader) != "mysite-0123456789.exe" || h.Get(CommitHeader) != "abc" {
		t.Errorf("headers: %v", h)
	}
	// A handler that adds a value does not change what the next answer carries.
	id := newIdentity(exe, "abc")
	h1, h2 := http.Header{}, http.Header{}
	id.set(h1)
	h1.Add(ArtifactHeader, "other")
	id.set(h2)
	if v := h2.Values(ArtifactHeader); len(v) != 1 || v[0] != "mysite-0123456789.exe" {
		t.Errorf("the next answer carries %q", v)
	}
	// Values a header cannot carry, and unknown ones, are left out. A test binary has no
	// vcs.revision, so without WithCommit there is no commit header.
	h = http.Header{}
	newIdentity("", "bad\r\nX-Injected: 1").set(h)
	if len(h) != 0 {
		t.Errorf("headers: %v, want none", h)
	}
	if buildRevision() == "" {
		h = http.Header{}
		newIdentity(exe, "").set(h)
		if _, ok := h[CommitHeader]; ok {
			t.Errorf("a commit header without a commit: %v", h)
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
