package goazure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ArtifactFileName is the file, beside the _target folder, that names the binary to run.
const ArtifactFileName = "_artifact.txt"

// TargetDirName is the folder, beside _artifact.txt, that holds every deployed version.
const TargetDirName = "_target"

var (
	exeOnce sync.Once
	exePath string
)

// executable is the running binary's path with symbolic links resolved, or "" when the system
// cannot tell.
func executable() string {
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			return
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		exePath = p
	})
	return exePath
}

// appDirOf is the folder that holds the _target folder exe lives in, or "" when exe is not in a
// folder named _target.
func appDirOf(exe string) string {
	if exe == "" {
		return ""
	}
	dir := filepath.Dir(exe)
	if !strings.EqualFold(filepath.Base(dir), TargetDirName) {
		return ""
	}
	return filepath.Dir(dir)
}

// AppDir returns the app's folder: the one holding _artifact.txt and the _target folder the
// running binary was started from (site\wwwroot on App Service). When the binary does not run
// from a _target folder, as on a developer's machine, it is the binary's own folder.
func AppDir() string { return appDirFor(executable()) }

// AssetDir returns the folder of the files shipped with the running version, _target/<name>/
// where <name> is the binary's file name without its extension: static files and templates
// deployed with this binary, which stay in place while a newer version is deployed beside them.
// When the binary does not run from a _target folder it is the binary's own folder.
func AssetDir() string { return assetDirFor(executable()) }

func appDirFor(exe string) string {
	if dir := appDirOf(exe); dir != "" {
		return dir
	}
	if exe == "" {
		return "."
	}
	return filepath.Dir(exe)
}

func assetDirFor(exe string) string {
	if appDirOf(exe) == "" {
		return appDirFor(exe)
	}
	base := filepath.Base(exe)
	return filepath.Join(filepath.Dir(exe), strings.TrimSuffix(base, filepath.Ext(base)))
}

// findArtifactFile is the _artifact.txt to poll: the override, else the one beside the _target
// folder the binary lives in, else the one under HOME\site\wwwroot when it exists. HOME comes
// last because on a developer's machine it is their home folder. "" means there is none.
func findArtifactFile(override, exe, home string) string {
	if override != "" {
		return override
	}
	if dir := appDirOf(exe); dir != "" {
		return filepath.Join(dir, ArtifactFileName)
	}
	if home != "" {
		p := filepath.Join(home, "site", "wwwroot", ArtifactFileName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// errNoSwitch explains why the content of _artifact.txt does not start a hand-over.
type errNoSwitch struct{ reason string }

func (e *errNoSwitch) Error() string { return e.reason }

// nextArtifact decides whether _artifact.txt, whose content is content, names a version to hand
// over to. It answers the path of that version's binary, or an error saying why not: the file
// is empty, names the running binary, or names something that is not an existing regular file
// (a half-written name may be the prefix of another name, or name a version's asset folder).
// A nil error with an empty path means the file names the running binary.
func nextArtifact(content []byte, artifactFile, running string) (string, error) {
	// The first non-blank line, as go-azure.bat's FOR /F reads it.
	var name string
	for _, line := range strings.FieldsFunc(strings.TrimPrefix(string(content), "\ufeff"), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if name = strings.TrimSpace(line); name != "" {
			break
		}
	}
	if name == "" {
		return "", &errNoSwitch{fmt.Sprintf("%s is empty", artifactFile)}
	}
	// The file uses Windows separators; accept either on every system.
	name = strings.ReplaceAll(name, `\`, "/")
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") {
		return "", &errNoSwitch{fmt.Sprintf("%s names %q, which is not a path relative to its folder", artifactFile, name)}
	}
	target := filepath.Join(filepath.Dir(artifactFile), filepath.FromSlash(name))
	if running != "" && samePath(target, running) {
		return "", nil
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", &errNoSwitch{fmt.Sprintf("%s names %s, which does not exist (yet)", artifactFile, target)}
	case err != nil:
		return "", &errNoSwitch{fmt.Sprintf("%s names %s, which cannot be read: %v", artifactFile, target, err)}
	case !fi.Mode().IsRegular():
		return "", &errNoSwitch{fmt.Sprintf("%s names %s, which is not a file", artifactFile, target)}
	}
	if running != "" {
		if rfi, err := os.Stat(running); err == nil && os.SameFile(fi, rfi) {
			return "", nil
		}
	}
	return target, nil
}

// samePath compares two paths the way the site's file system does: case-insensitively, since
// App Service runs on Windows.
func samePath(a, b string) bool {
	return strings.EqualFold(filepath.Clean(a), filepath.Clean(b))
}
