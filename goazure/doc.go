// Package goazure serves a Go web app behind IIS HttpPlatformHandler on Azure App Service for
// Windows and hands over to a newly deployed version without stopping the site.
//
// Deployment never overwrites the running binary, which Windows locks. Each version is uploaded
// under a new name into the site's _target folder, and _artifact.txt, beside _target, is then
// rewritten to name it (for example "_target\site-0123456789.exe"). [ListenAndServe] polls that
// file; when it names a different file that exists, the server stops taking new connections,
// finishes its in-flight requests and returns, so main can exit. On the next request IIS runs
// the launcher again, which starts the binary _artifact.txt now names.
//
// Adopting it takes two lines in main:
//
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	err := goazure.ListenAndServe(context.Background(), srv)
//	if errors.Is(err, goazure.ErrDrainTimeout) {
//		log.Print(err) // handed over; requests still running at the drain timeout were cut off
//	} else if err != nil {
//		log.Fatal(err) // could not listen
//	}
//
// The port comes from HTTP_PLATFORM_PORT, which HttpPlatformHandler sets; without it (on a
// developer's machine) from [WithPort], else a "-port" argument, else the server's Addr, else
// [DefaultPort], on the host of Addr as net/http reads it (":8080" is every interface). SIGINT and SIGTERM start the same
// hand-over as a new artifact does.
//
// The hand-over aims at the fewest failed requests when IIS sits in front, which keeps a pool of
// keep-alive connections to the app and answers 502.3, without retrying, when a connection is
// refused or reset. When it starts, every answer carries "Connection: close", so each pooled
// connection is closed by the server right after an answer and never under a request the proxy is
// sending. The server keeps accepting until the first moment with no request running and no
// connection open, closes the listener right then and returns, so with fast requests the only
// request that can fail is one that reaches the port in the instant between the listener closing
// and the process ending, before IIS sees the process has gone; IIS answers it 502.3. That instant
// lasts as long as main takes to return and the process to end: keep main's work after
// ListenAndServe short. No server can do without it, since IIS does not retry. When long requests
// leave no such moment within 100 ms, the listener closes anyway and the server returns the
// moment the last running request has been answered, rather than after
// http.Server.Shutdown's polling interval of up to 500 ms; requests that arrive on a new
// connection meanwhile are refused, so the failures per hand-over come down to the arrivals during
// the longest running request.
// [WithRedirectWhileDraining] removes even those for clients that follow redirects.
// [WithDrainTimeout] bounds the whole hand-over.
//
// _artifact.txt must hold exactly one name of the form "_target\<name>.exe" (or with "/"):
// spaces may surround it, with at most one line break (CRLF or LF) around it, and <name> keeps
// to A-Z, a-z, 0-9, '.', '_' and '-', does not start with '.' and has at most 100 characters;
// see [ParseArtifact]. Only on Windows is ".exe" required: a build for another system has none.
// The binary therefore always lies directly in _target. The launcher go-azure.bat applies the
// same rule and refuses to start anything else, so goazure never hands over to a version the
// launcher would not start, or would start differently.
//
// An answer from the app's handler says which version and which instance sent it only to a
// request that carries the site's identity key in the header X-Goazure-Identity-Key: the deploy
// writes a new random key to _identity.txt, beside _artifact.txt, before each switch, and sends it
// with its own health checks. Such an answer carries X-Goazure-Artifact, the running binary's file
// name (for example "site-0123456789.exe"), X-Goazure-Commit, the commit given with [WithCommit]
// or else the vcs.revision Go recorded in the binary, and X-Goazure-Instance, the first
// [InstanceIDLength] characters of WEBSITE_INSTANCE_ID; a header whose value is unknown is left
// out. Every other visitor gets none of them, so the site tells strangers neither its commit nor
// its version. All of it is worked out once, when the server starts.
//
// On a scaled-out site the deploy can release to one instance first (a canary): it writes
// _artifact.<WEBSITE_INSTANCE_ID>.txt ([InstanceArtifactFileName]), which goazure and the launcher
// on that instance read instead of _artifact.txt while it exists, and reads that instance's
// request counters at [StatsPath] (answered only with the identity key) to compare its error rate
// with the other instances'. Answers to the deploy name what this release supports in
// X-Goazure-Features.
//
// Static files and templates shipped with a version live in _target/<name>/, beside the binary;
// [AssetDir] and [AppDir] resolve them relative to the deployed binary rather than the working
// directory. [FileServer] serves such files with an ETag made from their content and
// "Cache-Control: no-cache", so browsers revalidate and get a new version's file of the same
// name right after a deploy; [CacheImmutable] caches fingerprinted names for a year.
package goazure
