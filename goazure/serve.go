package goazure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrDrainTimeout is returned when the drain timeout ended the hand-over with requests still
// running; they were cut off.
var ErrDrainTimeout = errors.New("goazure: drain timeout reached with requests still running")

// ListenAndServe serves srv on the platform's port and returns once it has handed over to a newly
// deployed version, or after SIGINT, SIGTERM or the end of ctx, each of which starts the same
// hand-over. It returns nil after a complete hand-over, ErrDrainTimeout when the drain timeout cut
// requests off, and any other error when it could not listen or shutting the server down failed.
//
// The port is HTTP_PLATFORM_PORT's, on 127.0.0.1 where HttpPlatformHandler connects. Without it
// (off Azure), the port is WithPort's, else a "-port N" argument's, else the port of srv.Addr,
// else DefaultPort; the host is srv.Addr's as net/http reads it, so Addr ":8080" listens on every
// interface (as a container needs) and "127.0.0.1:8080" on loopback only. With no srv.Addr at all
// it is 127.0.0.1.
//
// ListenAndServe wraps srv.Handler (http.DefaultServeMux when nil) to track requests, and must be
// the only one to start or stop srv.
func ListenAndServe(ctx context.Context, srv *http.Server, opts ...Option) error {
	cfg := newConfig(opts)
	addr := listenAddr(cfg.port, srv.Addr, os.Getenv("HTTP_PLATFORM_PORT"), os.Args[1:])
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("goazure: listen on %s: %w", addr, err)
	}
	return serve(ctx, srv, ln, cfg)
}

// Serve is ListenAndServe for a handler: it serves h with an http.Server whose header read is
// bounded, so a slow client cannot hold a connection open during the hand-over for long.
func Serve(ctx context.Context, h http.Handler, opts ...Option) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return ListenAndServe(ctx, srv, opts...)
}

// listenAddr picks the address to listen on; see ListenAndServe.
func listenAddr(optPort int, srvAddr, platformPort string, args []string) string {
	if p, err := strconv.Atoi(strings.TrimSpace(platformPort)); err == nil && p > 0 && p < 65536 {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	host, addrPort := "127.0.0.1", ""
	if srvAddr != "" {
		// net/http's meaning: an empty host is every interface.
		if h, p, err := net.SplitHostPort(srvAddr); err == nil {
			host, addrPort = h, p
		}
	}
	port := strconv.Itoa(DefaultPort)
	switch {
	case optPort >= 0:
		port = strconv.Itoa(optPort)
	case portArg(args) != "":
		port = portArg(args)
	case addrPort != "":
		port = addrPort
	}
	return net.JoinHostPort(host, port)
}

// portArg finds "-port N", "--port N", "-port=N" or "--port=N" among the arguments, without
// touching the flag package's command line, which belongs to the app.
func portArg(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "port" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return ""
			}
			value = args[i+1]
		}
		if _, err := strconv.Atoi(value); err == nil {
			return value
		}
	}
	return ""
}

// drainer tracks the requests the app's handler is running and carries the hand-over's state.
type drainer struct {
	// ident names the version on every answer to a request that carries the identity key.
	ident identity
	// stats counts what the app's handler answered, for StatsPath.
	stats    *counters
	mu       sync.Mutex
	draining bool
	redirect bool
	inFlight int
	// open counts the connections the server holds, idle pooled ones included.
	open int
	// idle is closed once the server is draining and no request is running.
	idle chan struct{}
	// quiet is closed at the first moment of the drain with no request running and no connection
	// open; closeListener runs at that very moment, under mu, so no connection can slip in between.
	quiet         chan struct{}
	closeListener func()
	// release is closed when held requests may send their redirect.
	release chan struct{}
	// unflushed counts held requests that have not yet sent their redirect's header; flushed is
	// signalled each time it drops to zero.
	unflushed int
	flushed   chan struct{}
	// ended is closed when held redirects may end their body; the process's exit normally ends
	// them first.
	ended chan struct{}
}

func newDrainer(redirect bool, ident identity) *drainer {
	return &drainer{redirect: redirect, ident: ident, stats: newCounters(), idle: make(chan struct{}), quiet: make(chan struct{}), release: make(chan struct{}), ended: make(chan struct{}), flushed: make(chan struct{}, 1)}
}

func (d *drainer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.ident.set(w.Header(), r)
		if d.stats.serveStats(w, r, d.ident) {
			return
		}
		d.mu.Lock()
		if d.draining && d.redirect {
			d.unflushed++
			d.mu.Unlock()
			d.redirectWhenReleased(w, r)
			return
		}
		d.inFlight++
		draining := d.draining
		d.mu.Unlock()
		defer d.finished()
		if draining {
			// The proxy must not reuse this connection: once it is closed, the next request
			// opens a new one, which the new version answers.
			w.Header().Set("Connection", "close")
		}
		sw := &statusWriter{ResponseWriter: w, varyKey: d.ident.known(r)}
		began := time.Now()
		returned := false
		defer func() {
			status := sw.status
			if !returned {
				// The handler panicked: net/http cuts the answer off and IIS answers 502 instead.
				status = http.StatusBadGateway
			}
			d.stats.observe(status, time.Since(began))
		}()
		h.ServeHTTP(sw, r)
		returned = true
		// A handler that wrote nothing: net/http sends the header now.
		sw.headerGoesOut()
	})
}

// redirectWhenReleased holds a request that arrived during the drain until the running requests
// have finished, then answers 307 to the same URL. The answer has no length: its body ends when
// the connection closes, which is when this process exits. A client reads a redirect's body before
// following it, so it comes back only once the process is gone and IIS starts the new one, never
// while this process lingers with its listener closed (which IIS would answer 502.3).
func (d *drainer) redirectWhenReleased(w http.ResponseWriter, r *http.Request) {
	flushed := false
	defer func() {
		if !flushed {
			d.sentRedirect()
		}
	}()
	select {
	case <-d.release:
	case <-r.Context().Done():
		return
	}
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Cache-Control", "no-store")
	h.Set("Location", r.URL.RequestURI())
	// "identity" makes net/http send the body unchunked and delimited by the connection's close.
	h.Set("Transfer-Encoding", "identity")
	w.WriteHeader(http.StatusTemporaryRedirect)
	_ = http.NewResponseController(w).Flush()
	flushed = true
	d.sentRedirect()
	select {
	case <-d.ended:
	case <-r.Context().Done():
	}
}

func (d *drainer) sentRedirect() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unflushed--
	if d.unflushed == 0 {
		select {
		case d.flushed <- struct{}{}:
		default:
		}
	}
}

// waitFlushed waits until no held request is left without its redirect's header sent.
func (d *drainer) waitFlushed(deadline <-chan time.Time) bool {
	for {
		d.mu.Lock()
		n := d.unflushed
		d.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-d.flushed:
		case <-deadline:
			return false
		}
	}
}

func (d *drainer) finished() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight--
	if d.draining && d.inFlight == 0 {
		d.closeIdle()
	}
	if !d.redirect {
		d.checkQuiet()
	}
}

// connState follows the server's connections, so the drain can tell when none is left.
func (d *drainer) connState(s http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s {
	case http.StateNew:
		d.open++
	case http.StateClosed, http.StateHijacked:
		d.open--
		if !d.redirect {
			d.checkQuiet()
		}
	}
}

// checkQuiet closes the listener at the first quiet moment of a drain. Called with mu held.
func (d *drainer) checkQuiet() {
	if !d.draining || d.inFlight != 0 || d.open > 0 {
		return
	}
	select {
	case <-d.quiet:
	default:
		if d.closeListener != nil {
			d.closeListener()
		}
		close(d.quiet)
	}
}

// start marks the hand-over's beginning.
func (d *drainer) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.draining = true
	if d.inFlight == 0 {
		d.closeIdle()
	}
	if !d.redirect {
		d.checkQuiet()
	}
}

func (d *drainer) closeIdle() {
	select {
	case <-d.idle:
	default:
		close(d.idle)
	}
}

func (d *drainer) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight
}

// closeOnceListener lets the hand-over close the listener while Serve, which closes it again
// when the server shuts down, still holds it.
type closeOnceListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *closeOnceListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

func serve(ctx context.Context, srv *http.Server, raw net.Listener, cfg *config) error {
	log := cfg.logger
	ln := &closeOnceListener{Listener: raw}
	artifactFile := findArtifactFile(cfg.artifactFile, executable(), os.Getenv("HOME"))
	key := readIdentityKey(artifactFile)
	d := newDrainer(cfg.redirect, newIdentity(executable(), cfg.commit, os.Getenv("WEBSITE_INSTANCE_ID"), key))
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = d.wrap(h)
	userConnState := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		d.connState(state)
		if userConnState != nil {
			userConnState(c, state)
		}
	}
	d.closeListener = func() { _ = ln.Close() }

	if cfg.onListen != nil {
		cfg.onListen(ln.Addr())
	}
	log.Info("goazure: serving", "addr", ln.Addr().String(), "artifactFile", artifactFile, "executable", executable(), "identityKey", key != nil)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	reason, err := waitForHandOver(ctx, cfg, artifactFile, serveErr)
	if err != nil {
		return err
	}
	log.Info("goazure: handing over", "reason", reason, "running", d.running(), "redirectWhileDraining", cfg.redirect)
	return drain(srv, ln, d, cfg, serveErr)
}

// waitForHandOver blocks until something starts the hand-over, and says what did. An error means
// the server stopped by itself.
func waitForHandOver(ctx context.Context, cfg *config, artifactFile string, serveErr <-chan error) (string, error) {
	var sigs chan os.Signal
	if cfg.signals {
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		// After the first signal the default handling returns, so a second one ends the process.
		defer signal.Stop(sigs)
	}
	var tick <-chan time.Time
	if artifactFile != "" {
		t := time.NewTicker(cfg.pollInterval)
		defer t.Stop()
		tick = t.C
	} else {
		cfg.logger.Info("goazure: no " + ArtifactFileName + " to poll; only a signal or the context ends this server")
	}
	w := &watcher{file: artifactFile, instanceFile: instanceArtifactFile(artifactFile, os.Getenv("WEBSITE_INSTANCE_ID")), running: executable(), log: cfg.logger}
	if artifactFile != "" {
		if next := w.check(); next != "" {
			return "artifact changed to " + next, nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return "context done: " + context.Cause(ctx).Error(), nil
		case s := <-sigs:
			return "signal " + s.String(), nil
		case err := <-serveErr:
			return "", fmt.Errorf("goazure: server stopped: %w", err)
		case <-tick:
			if next := w.check(); next != "" {
				return "artifact changed to " + next, nil
			}
		}
	}
}

// watcher reads _artifact.txt and logs each distinct reason not to switch once, since the same
// state is seen on every poll.
type watcher struct {
	file string
	// instanceFile is this instance's own pointer (InstanceArtifactFileName), read instead of
	// file while it exists; "" when there is none to look for.
	instanceFile string
	running      string
	log          *slog.Logger
	last         string
}

func (w *watcher) check() string {
	content, from, err := readPointer(w.file, w.instanceFile)
	var next string
	if err != nil {
		err = &errNoSwitch{fmt.Sprintf("%s cannot be read: %v", from, err)}
	} else {
		next, err = nextArtifact(content, from, w.running)
	}
	if err != nil {
		if msg := err.Error(); msg != w.last {
			w.last = msg
			w.log.Warn("goazure: keeps running: " + msg)
		}
		return ""
	}
	w.last = ""
	return next
}

// redirectLinger is how long held redirects stay open after ListenAndServe has returned, in case
// the process does not exit at once; their clients then come back to whatever answers.
const redirectLinger = time.Second

// drain runs the hand-over; see the package documentation for the reasoning.
func drain(srv *http.Server, ln *closeOnceListener, d *drainer, cfg *config, serveErr <-chan error) error {
	log := cfg.logger
	started := time.Now()
	deadline := time.NewTimer(cfg.drainTimeout)
	defer deadline.Stop()
	for _, f := range cfg.onShutdown {
		go f()
	}
	// From here on every answer says Connection: close, so each connection the proxy holds is
	// closed by this server right after an answer, never under a request the proxy is sending.
	d.start()
	timedOut := false
	if !cfg.redirect {
		// Keep accepting for a moment: with fast requests there soon comes a moment with no
		// request running and no connection open, and the listener closes right then (see
		// checkQuiet), so hardly any connection is refused. Closing idle pooled connections
		// instead would reset any the proxy has just sent a request on, and IIS answers that
		// 502.3 without retrying.
		select {
		case <-d.quiet:
		case <-time.After(cfg.quietWait):
			// Long requests keep the server busy: close now, so the hand-over's failures come
			// down to the arrivals during the longest running request, instead of Shutdown's
			// polling interval of up to 500 ms.
			srv.SetKeepAlivesEnabled(false)
			_ = ln.Close()
		case <-deadline.C:
			timedOut = true
		}
	} else {
		// Idle pooled connections close now, and busy ones right after their answer.
		srv.SetKeepAlivesEnabled(false)
	}
	if !timedOut {
		select {
		case <-d.idle:
		case <-deadline.C:
			timedOut = true
		}
	}

	if cfg.redirect {
		// The held requests send their redirect's header now, and whatever arrives from here on
		// gets one at once: the listener stays open until the process exits, so no connection
		// is refused while this process is alive. The redirects' bodies stay open until then
		// too. Should the process linger, they end a second later and the server shuts down,
		// which runs the RegisterOnShutdown hooks.
		close(d.release)
		if !timedOut && !d.waitFlushed(deadline.C) {
			timedOut = true
		}
		time.AfterFunc(redirectLinger, func() {
			close(d.ended)
			_ = ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				_ = srv.Close()
			}
		})
		return finish(log, started, timedOut, nil, d)
	}
	_ = ln.Close()

	// Shutdown now finds nothing but connections whose last answer is being written, so its
	// first checks return; the remaining budget still bounds it.
	remaining := cfg.drainTimeout - time.Since(started)
	if timedOut || remaining <= 0 {
		remaining = time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), remaining)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-serveErr
	return finish(log, started, timedOut, err, d)
}

// finish reports how the drain ended. Only the drain timeout, whether the wait for running
// requests or Shutdown ran out of it, is ErrDrainTimeout; any other error from Shutdown (closing
// the listener, for one) is returned as it is, wrapped.
func finish(log *slog.Logger, started time.Time, timedOut bool, err error, d *drainer) error {
	elapsed := time.Since(started).Round(time.Millisecond)
	if timedOut || errors.Is(err, context.DeadlineExceeded) {
		log.Warn("goazure: drain timeout reached; remaining requests cut off", "after", elapsed, "running", d.running())
		return ErrDrainTimeout
	}
	if err != nil {
		log.Warn("goazure: shutting down failed", "after", elapsed, "error", err)
		return fmt.Errorf("goazure: shutting down: %w", err)
	}
	log.Info("goazure: drained", "after", elapsed)
	return nil
}

// WaitForSwitch polls _artifact.txt, found as ListenAndServe finds it (WithArtifactFile,
// WithPollInterval and WithLogger apply), until it names a different binary that exists, and
// returns that binary's path. It is for apps that stop their server themselves. It returns an
// error when there is no _artifact.txt to poll, or ctx's cause when ctx ends first.
func WaitForSwitch(ctx context.Context, opts ...Option) (string, error) {
	cfg := newConfig(opts)
	file := findArtifactFile(cfg.artifactFile, executable(), os.Getenv("HOME"))
	if file == "" {
		return "", errors.New("goazure: no " + ArtifactFileName + " found beside the binary's _target folder or under %HOME%\\site\\wwwroot; use WithArtifactFile")
	}
	w := &watcher{file: file, instanceFile: instanceArtifactFile(file, os.Getenv("WEBSITE_INSTANCE_ID")), running: executable(), log: cfg.logger}
	t := time.NewTicker(cfg.pollInterval)
	defer t.Stop()
	for {
		if next := w.check(); next != "" {
			return next, nil
		}
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-t.C:
		}
	}
}
