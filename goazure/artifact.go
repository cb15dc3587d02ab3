package goazure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
// from a _target folder, as on a developer's machine, it is the binary's own folder; under
// "go run" or "go test", whose binary lives in a temporary build folder (or, for a repeated
// "go run", the build cache), it is the working directory instead.
func AppDir() string { return appDirFor(executable()) }

// AssetDir returns the folder of the files shipped with the running version, _target/<name>/
// where <name> is the binary's file name without its extension: static files and templates
// deployed with this binary, which stay in place while a newer version is deployed beside them.
// When the binary does not run from a _target folder it is the binary's own folder, and under
// "go run" or "go test" the working directory (run them from the folder that holds your static
// files, as the action's include patterns are relative to working-directory).
func AssetDir() string { return assetDirFor(executable()) }

func appDirFor(exe string) string {
	if dir := appDirOf(exe); dir != "" {
		return dir
	}
	if exe == "" || builtByGoCommand(exe) {
		if wd, err := os.Getwd(); err == nil {
			return wd
		}
		return "."
	}
	return filepath.Dir(exe)
}

// builtByGoCommand reports whether exe is a binary "go run" or "go test" built into its temporary
// work folder ($GOTMPDIR or the system temp folder, then go-build<digits>/b001/exe/ for go run),
// which is deleted when the command ends and holds none of the app's files, or one a later
// "go run" starts from the build cache, where Go 1.24 and later keep it
// ($GOCACHE/<2 hex digits>/<hash>-d/, the hash starting with those digits).
func builtByGoCommand(exe string) bool {
	if hash, ok := strings.CutSuffix(filepath.Base(filepath.Dir(exe)), "-d"); ok && len(hash) >= 2 && strings.Trim(hash, "0123456789abcdef") == "" && filepath.Base(filepath.Dir(filepath.Dir(exe))) == hash[:2] {
		return true
	}
	for dir := filepath.Dir(exe); ; {
		if digits, ok := strings.CutPrefix(filepath.Base(dir), "go-build"); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
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

// MaxArtifactNameLength is the longest <name> a valid _artifact.txt may carry in
// _target\<name>.exe; see ParseArtifact.
const MaxArtifactNameLength = 100

// MaxArtifactFileSize is the most bytes a valid _artifact.txt may hold; see ParseArtifact.
const MaxArtifactFileSize = 256

// ParseArtifact applies the rule for _artifact.txt's content, which go-azure.bat applies too,
// and returns the binary's file name, "<name>.exe". The content is valid when it is
//
//   - optional spaces, then _target\ or _target/ (the folder's name in any case),
//   - <name>: 1 to MaxArtifactNameLength characters from A-Z, a-z, 0-9, '.', '_' and '-', not
//     starting with '.',
//   - .exe (in lower case), then optional spaces; .exe may be left out where goazure runs on
//     another system than Windows, which is how the action names a build for such a system,
//
// with at most two line-break characters (CR or LF) in all before and after it: one CRLF or LF
// line break, as the deploy writes it, or none. The whole content is at most
// MaxArtifactFileSize bytes. Nothing else is allowed: no byte order mark,
// tab, quote, other folder or second line. The binary therefore always lies directly in the
// _target folder beside _artifact.txt, and its name means the same to goazure and to cmd.exe.
func ParseArtifact(content []byte) (string, error) {
	if len(content) > MaxArtifactFileSize {
		return "", fmt.Errorf("it has %d bytes; at most %d are allowed", len(content), MaxArtifactFileSize)
	}
	s := string(content)
	line := strings.TrimRight(strings.TrimLeft(s, "\r\n"), "\r\n")
	if line == "" {
		return "", errors.New("it is empty")
	}
	if n := len(s) - len(line); n > 2 {
		return "", fmt.Errorf("it has %d line-break characters around the name; at most one line break (CRLF or LF) is allowed", n)
	}
	line = strings.Trim(line, " ")
	for i := 0; i < len(line); i++ {
		if !artifactChar(line[i]) && line[i] != '\\' && line[i] != '/' {
			return "", fmt.Errorf("%q has the character %q, which is not allowed (only A-Z, a-z, 0-9, '.', '_', '-' and the separator after %s)", line, line[i:i+1], TargetDirName)
		}
	}
	prefix := len(TargetDirName) + 1
	if len(line) < prefix || line[:prefix-1] != TargetDirName || (line[prefix-1] != '\\' && line[prefix-1] != '/') {
		return "", fmt.Errorf("%q does not start with %s\\", line, TargetDirName)
	}
	file := line[prefix:]
	name, ok := strings.CutSuffix(file, ".exe")
	switch {
	case !ok && exeRequired:
		return "", fmt.Errorf("%q does not end in .exe", line)
	case strings.ContainsAny(file, "\\/"):
		return "", fmt.Errorf("%q names a file in a folder under %s; the binary must lie directly in %s", line, TargetDirName, TargetDirName)
	case name == "":
		return "", fmt.Errorf("%q has no name before .exe", line)
	case name[0] == '.':
		return "", fmt.Errorf("%q names a file starting with '.'", line)
	case len(name) > MaxArtifactNameLength:
		return "", fmt.Errorf("%q has a name of %d characters; at most %d are allowed", line, len(name), MaxArtifactNameLength)
	}
	return file, nil
}

// exeRequired says whether the binary's name must end in .exe: on Windows, where go-azure.bat
// applies the same rule. The tests set it to check the Windows rule on every system.
var exeRequired = runtime.GOOS == "windows"

// artifactChar reports whether c may appear in the name of a binary _artifact.txt names.
func artifactChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// nextArtifact decides whether _artifact.txt, whose content is content, names a version to hand
// over to. It answers the path of that version's binary, or an error saying why not: the content
// breaks the rule of ParseArtifact, names the running binary, or names something that is not an
// existing regular file (a half-written name may be the prefix of another name).
// A nil error with an empty path means the file names the running binary.
func nextArtifact(content []byte, artifactFile, running string) (string, error) {
	name, err := ParseArtifact(content)
	if err != nil {
		return "", &errNoSwitch{fmt.Sprintf("%s is not valid: %v", artifactFile, err)}
	}
	target := filepath.Join(filepath.Dir(artifactFile), TargetDirName, name)
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
