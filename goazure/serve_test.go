package goazure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	addr string
	file string
	done chan error
	log  *syncBuffer
}

// switchTo points _artifact.txt at name, as the deploy does.
func (r *running) switchTo(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(r.file, []byte("_target\\"+name+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *running) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(within):
		t.Fatalf("the server did not return within %v", within)
		return nil
	}
}

// start serves h on a free port with _artifact.txt in a fresh site whose _target holds
// "next.exe"; _artifact.txt starts empty, which never switches.
func start(t *testing.T, ctx context.Context, h http.Handler, opts ...Option) *running {
	t.Helper()
	appDir := tempDir(t)
	if err := os.MkdirAll(filepath.Join(appDir, TargetDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(appDir, TargetDirName, "next.exe"), []byte("MZ"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(appDir, ArtifactFileName)
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(appDir, IdentityKeyFileName), []byte(testIdentityKey+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HTTP_PLATFORM_PORT", "")
	r := &running{file: file, done: make(chan error, 1), log: &syncBuffer{}}
	addrs := make(chan string, 1)
	opts = append([]Option{
		WithPort(0),
		WithArtifactFile(file),
		WithPollInterval(20 * time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(r.log, nil))),
		func(c *config) {
			c.onListen = func(a net.Addr) { addrs <- a.String() }
			c.signals = false
		},
	}, opts...)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { r.done <- ListenAndServe(ctx, srv, opts...) }()
	select {
	case r.addr = <-addrs:
	case err := <-r.done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return r
}

// slowHandler answers "/" at once and "/slow" once release is closed, after telling started.
func slowHandler(started chan<- struct{}, release <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	})
	return mux
}

type result struct {
	status int
	body   string
	header http.Header
	err    error
}

// testIdentityKey is the identity key start writes beside the artifact file.
const testIdentityKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// get requests path on a fresh connection, with the identity key, without following redirects.
func get(addr, path string) result {
	return getWithKey(addr, path, testIdentityKey)
}

// getWithKey is get with key in IdentityKeyHeader; "" sends none, as any visitor does.
func getWithKey(addr, path, key string) result {
	c := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return result{err: err}
	}
	if key != "" {
		req.Header.Set(IdentityKeyHeader, key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), header: resp.Header, err: err}
}

func TestSwitchOnlyToAnExistingDifferentArtifact(t *testing.T) {
	r := start(t, context.Background(), slowHandler(nil, nil))
	if got := get(r.addr, "/"); got.err != nil || got.body != "fast" {
		t.Fatalf("before any switch: %+v", got)
	}
	// A name whose binary is not there yet (a half-written name, or an upload still running).
	r.switchTo(t, "next.ex")
	time.Sleep(200 * time.Millisecond)
	if got := get(r.addr, "/"); got.err != nil || got.body != "fast" {
		t.Fatalf("after a switch to a missing binary the server must keep serving: %+v", got)
	}
	select {
	case err := <-r.done:
		t.Fatalf("the server returned (%v) although the named binary does not exist", err)
	default:
	}
	r.switchTo(t, "next.exe")
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
	if got := get(r.addr, "/"); got.err == nil {
		t.Fatalf("the server still answers after the hand-over: %+v", got)
	}
	if !strings.Contains(r.log.String(), "next.exe") {
		t.Errorf("the log does not say what it switches to:\n%s", r.log)
	}
}

func TestUnusableContentIsLoggedOnce(t *testing.T) {
	r := start(t, context.Background(), slowHandler(nil, nil))
	time.Sleep(300 * time.Millisecond) // about 15 polls of the empty file
	if n := strings.Count(r.log.String(), "is empty"); n != 1 {
		t.Fatalf("an empty _artifact.txt was logged %d times, want once:\n%s", n, r.log)
	}
	removeFile(t, r.file)
	time.Sleep(300 * time.Millisecond)
	// On Windows a poll during the deletion may first see a sharing violation, a reason of its
	// own; each reason is logged once, however many polls see it.
	var reasons []string
	seen := map[string]bool{}
	for _, line := range strings.Split(r.log.String(), "\n") {
		if !strings.Contains(line, "cannot be read") {
			continue
		}
		if _, msg, _ := strings.Cut(line, "msg="); seen[msg] {
			t.Fatalf("the reason %s was logged more than once:\n%s", msg, r.log)
		} else {
			seen[msg] = true
			reasons = append(reasons, msg)
		}
	}
	if len(reasons) == 0 || len(reasons) > 2 {
		t.Fatalf("a missing _artifact.txt was logged with %d reasons, want one (two on Windows):\n%s", len(reasons), r.log)
	}
	if got := get(r.addr, "/"); got.err != nil || got.body != "fast" {
		t.Fatalf("the server must keep serving: %+v", got)
	}
}

func TestDrainFinishesInFlightRequestsAndRefusesNewConnections(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	r := start(t, context.Background(), slowHandler(started, release), WithDrainTimeout(5*time.Second))
	slow := make(chan result, 1)
	go func() { slow <- get(r.addr, "/slow") }()
	<-started
	r.switchTo(t, "next.exe")
	// Once the hand-over has begun, a new connection is refused at once rather than queued
	// behind the slow request.
	deadline := time.Now().Add(2 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp4", r.addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections are still accepted 2 s after the switch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-r.done:
		t.Fatalf("ListenAndServe returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	released := time.Now()
	close(release)
	got := <-slow
	if got.err != nil || got.status != 200 || got.body != "slow" {
		t.Fatalf("the in-flight request: %+v, want 200 slow", got)
	}
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
	// Returning right after the last request, not after a polling delay, is what keeps the window
	// in which the proxy's new connections are refused short.
	if d := time.Since(released); d > 250*time.Millisecond {
		t.Errorf("ListenAndServe returned %v after the last request ended", d)
	}
}

func TestConnectionsOpenedBeforeTheHandOverAreServedWithConnectionClose(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	r := start(t, context.Background(), slowHandler(started, release))
	// A connection opened before the switch, its request not yet sent.
	conn, err := net.Dial("tcp4", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go get(r.addr, "/slow")
	<-started
	r.switchTo(t, "next.exe")
	time.Sleep(100 * time.Millisecond) // a few polls: the hand-over has begun
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn) // the server closes the connection after the answer
	resp := string(b)
	if !strings.HasPrefix(resp, "HTTP/1.1 200") || !strings.Contains(resp, "Connection: close") {
		t.Fatalf("a request on a pooled connection during the drain got:\n%s", resp)
	}
	close(release)
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
}

func TestPooledConnectionIsNotClosedUnderTheProxy(t *testing.T) {
	r := start(t, context.Background(), slowHandler(nil, nil), func(c *config) { c.quietWait = 10 * time.Second })
	// A keep-alive connection the proxy holds in its pool, idle when the hand-over begins.
	conn, err := net.Dial("tcp4", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reader := bufio.NewReader(conn)
	send := func() *http.Response {
		t.Helper()
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(reader, nil)
		if err != nil {
			t.Fatalf("a request on the pooled connection failed: %v", err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send(); resp.Close {
		t.Fatal("before the hand-over the answer must keep the connection open")
	}
	r.switchTo(t, "next.exe")
	time.Sleep(200 * time.Millisecond) // ten polls: the hand-over has begun
	select {
	case err := <-r.done:
		t.Fatalf("ListenAndServe returned (%v) while the proxy still held a connection; closing it could reset a request the proxy is sending", err)
	default:
	}
	// The proxy reuses the pooled connection: it is answered, and told to close.
	if resp := send(); resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("the request on the pooled connection during the drain: status %d, close %v", resp.StatusCode, resp.Close)
	}
	// The server closed that connection after the answer; nothing is open or running any more, so
	// the listener closes and the server returns at once, long before the quiet wait ends.
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
	if got := get(r.addr, "/"); got.err == nil {
		t.Fatalf("the server still answers after the hand-over: %+v", got)
	}
}

func TestDrainTimeoutCutsOffRequests(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	r := start(t, context.Background(), slowHandler(started, release), WithDrainTimeout(300*time.Millisecond))
	slow := make(chan result, 1)
	go func() { slow <- get(r.addr, "/slow") }()
	<-started
	switched := time.Now()
	r.switchTo(t, "next.exe")
	err := r.wait(t, 3*time.Second)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("ListenAndServe = %v, want ErrDrainTimeout", err)
	}
	// The poll interval (20 ms) plus the drain timeout, never less than the timeout.
	if d := time.Since(switched); d < 300*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("the hand-over took %v with a drain timeout of 300ms", d)
	}
	if got := <-slow; got.err == nil {
		t.Errorf("the request still running at the timeout was answered: %+v", got)
	}
}

func TestRedirectWhileDraining(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	r := start(t, context.Background(), slowHandler(started, release), WithRedirectWhileDraining(true))
	slow := make(chan result, 1)
	go func() { slow <- get(r.addr, "/slow") }()
	<-started
	r.switchTo(t, "next.exe")
	time.Sleep(100 * time.Millisecond)
	held := make(chan result, 1)
	go func() { held <- get(r.addr, "/?q=1") }()
	select {
	case got := <-held:
		t.Fatalf("a request that arrived during the drain was answered before the drain ended: %+v", got)
	case <-time.After(150 * time.Millisecond):
	}
	close(release)
	if got := <-slow; got.status != 200 || got.body != "slow" {
		t.Fatalf("the in-flight request: %+v", got)
	}
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
	// The redirect's body ends when the connection closes: in a deployed app when the process
	// exits right after ListenAndServe returns, here a second later. The client must not come
	// back before that.
	select {
	case got := <-held:
		t.Fatalf("the redirect ended before the server had gone: %+v", got)
	case <-time.After(200 * time.Millisecond):
	}
	got := <-held
	if got.err != nil || got.status != http.StatusTemporaryRedirect || got.header.Get("Location") != "/?q=1" {
		t.Fatalf("the held request: %+v, want 307 to /?q=1", got)
	}
}

func TestOnShutdownRunsWhenTheHandOverStarts(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	called := make(chan struct{})
	r := start(t, context.Background(), slowHandler(started, release), WithOnShutdown(func() { close(called) }))
	go get(r.addr, "/slow")
	<-started
	r.switchTo(t, "next.exe")
	select {
	case <-called:
	case <-time.After(2 * time.Second):
		t.Fatal("the hook did not run while a request was still in flight")
	}
	close(release)
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestContextEndStartsTheHandOver(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := start(t, ctx, slowHandler(nil, nil))
	cancel()
	if err := r.wait(t, 2*time.Second); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
}

func TestWaitForSwitch(t *testing.T) {
	appDir, _ := site(t)
	file := filepath.Join(appDir, ArtifactFileName)
	if err := os.WriteFile(file, []byte("_target\\missing.exe\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	opts := []Option{WithArtifactFile(file), WithPollInterval(20 * time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if _, err := WaitForSwitch(ctx, opts...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForSwitch with a missing binary = %v, want the context's deadline", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.WriteFile(file, []byte("_target\\site-bbbbbbbbbb.exe"), 0o644)
	}()
	got, err := WaitForSwitch(context.Background(), opts...)
	if want := filepath.Join(appDir, TargetDirName, "site-bbbbbbbbbb.exe"); err != nil || got != want {
		t.Fatalf("WaitForSwitch = %q, %v; want %q", got, err, want)
	}
}
