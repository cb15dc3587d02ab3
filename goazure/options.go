package goazure

import (
	"log/slog"
	"net"
	"time"
)

// Defaults used when no option says otherwise.
const (
	// DefaultPort is the port used when neither HTTP_PLATFORM_PORT, WithPort, a "-port"
	// argument nor the server's Addr gives one.
	DefaultPort = 8080
	// DefaultPollInterval is how often _artifact.txt is read. The site's file system is a
	// network share where change notifications are unreliable, so the file is polled.
	DefaultPollInterval = time.Second
	// DefaultDrainTimeout bounds the hand-over: in-flight requests still running after it are
	// cut off.
	DefaultDrainTimeout = 30 * time.Second
)

// An Option changes how ListenAndServe and Serve behave.
type Option func(*config)

type config struct {
	port         int
	pollInterval time.Duration
	drainTimeout time.Duration
	logger       *slog.Logger
	artifactFile string
	redirect     bool
	commit       string
	onShutdown   []func()
	// onListen, when set, is told the address the server listens on; the tests use it to reach
	// a server bound to port 0.
	onListen func(net.Addr)
	// signals is false in tests that must not touch the process's signal handling.
	signals bool
	// quietWait is how long a drain keeps accepting while it waits for a moment with no request
	// running and no connection open; a test lengthens it to observe that wait.
	quietWait time.Duration
}

func newConfig(opts []Option) *config {
	c := &config{
		port:         -1,
		pollInterval: DefaultPollInterval,
		drainTimeout: DefaultDrainTimeout,
		signals:      true,
		quietWait:    100 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.pollInterval <= 0 {
		c.pollInterval = DefaultPollInterval
	}
	if c.drainTimeout <= 0 {
		c.drainTimeout = DefaultDrainTimeout
	}
	return c
}

// WithPort sets the port to listen on when HTTP_PLATFORM_PORT is not set. It wins over a
// "-port" argument and the server's Addr. Port 0 picks a free port.
func WithPort(port int) Option {
	return func(c *config) { c.port = port }
}

// WithPollInterval sets how often _artifact.txt is read; DefaultPollInterval when d <= 0.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) { c.pollInterval = d }
}

// WithDrainTimeout bounds the hand-over, from the moment it starts until the server has
// returned; DefaultDrainTimeout when d <= 0. In-flight requests are never cut off before it.
func WithDrainTimeout(d time.Duration) Option {
	return func(c *config) { c.drainTimeout = d }
}

// WithLogger sets the logger for the server's own messages (what it listens on, why it hands
// over, how the drain went); slog.Default() when nil.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithArtifactFile names the _artifact.txt to poll, instead of the one found beside the _target
// folder the binary runs from or under %HOME%\site\wwwroot.
func WithArtifactFile(path string) Option {
	return func(c *config) { c.artifactFile = path }
}

// WithRedirectWhileDraining, when on, changes what happens to requests that arrive during the
// hand-over: the listener stays open, and each such request is held until the requests that were
// already running have finished, then answered "307 Temporary Redirect" to its own URL with
// "Connection: close". The redirect's body ends only when the connection closes, that is when the
// process exits, so a client that reads it before following (as HTTP client libraries do) repeats
// the request once IIS has started the new version. The listener stays open until the process
// exits too, so nothing is refused meanwhile. Off by default: only clients that follow redirects,
// and can send the request body again, benefit. The process must exit promptly once
// ListenAndServe returns; should it linger, the listener and the held connections are closed a
// second later, and functions registered with http.Server.RegisterOnShutdown run then.
func WithRedirectWhileDraining(on bool) Option {
	return func(c *config) { c.redirect = on }
}

// WithOnShutdown registers f to run, in its own goroutine, when the hand-over starts: the place
// to tell hijacked connections (WebSockets, for example), which the server no longer tracks, to
// finish; the drain itself waits only for HTTP requests. Functions registered with
// http.Server.RegisterOnShutdown run later, when the drained server is shut down.
func WithOnShutdown(f func()) Option {
	return func(c *config) { c.onShutdown = append(c.onShutdown, f) }
}

// WithCommit names the commit the binary was built from, for the X-Goazure-Commit header on
// every answer; pass what the build stamped, for example with -ldflags "-X main.commit=...".
// Without it (or with ""), the header carries the vcs.revision Go records in the binary when it
// is built in a repository (see runtime/debug.ReadBuildInfo), and is left out when there is none.
func WithCommit(commit string) Option {
	return func(c *config) { c.commit = commit }
}
