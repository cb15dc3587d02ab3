#!/bin/sh
# The launcher the IIS emulator runs for a Linux build: the shell equivalent of
# templates/go-azure.bat. It starts the binary that _artifact.txt in GO_AZURE_WWWROOT names (a
# path relative to that folder, Windows separators allowed; this instance's own pointer comes
# first, see below) with every argument (the port), and on any problem writes one line to stderr and exits non-zero, with the same codes as the .bat.
root="${GO_AZURE_WWWROOT:?GO_AZURE_WWWROOT must name the site folder}"
list="$root/_artifact.txt"
# A canary's per-instance pointer, _artifact.<WEBSITE_INSTANCE_ID>.txt, comes first while it
# exists, for an id of A-Z, a-z, 0-9, "-" and "_" (at most 64): go-azure.bat's rule.
id="${WEBSITE_INSTANCE_ID:-}"
if printf '%s' "$id" | grep -Eq '^[A-Za-z0-9_-]{1,64}$' && [ -f "$root/_artifact.$id.txt" ]; then
  list="$root/_artifact.$id.txt"
fi
if [ ! -f "$list" ]; then
  echo "go-azure.sh: \"$list\" does not exist; deploy an artifact so that it names the binary to run." >&2
  exit 2
fi
# read fails on a last line without a line break but still fills the variable.
IFS= read -r name < "$list" || true
name=$(printf '%s' "$name" | tr -d '\r' | tr '\\' '/' | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
if [ -z "$name" ]; then
  echo "go-azure.sh: \"$list\" names no binary (it is empty); deploy an artifact again." >&2
  exit 3
fi
# The name part of goazure's rule (ParseArtifact in goazure/artifact.go), which go-azure.bat applies
# in full: a binary directly in _target, with a name of A-Z, a-z, 0-9, ".", "_" and "-". Off
# Windows, goazure does not require ".exe": the action names a Linux build without it.
if ! printf '%s' "$name" | grep -Eq '^_target/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}([.]exe)?$'; then
  echo "go-azure.sh: \"$list\" is not one line \"_target\\<name>.exe\" with a name of A-Z, a-z, 0-9, \".\", \"_\" and \"-\"; nothing was started. Deploy an artifact again." >&2
  exit 5
fi
exe="$root/$name"
if [ ! -f "$exe" ]; then
  echo "go-azure.sh: \"$exe\", named by \"$list\", does not exist; deploy that artifact again." >&2
  exit 4
fi
# Windows runs any file it is given; a binary unpacked from a zip on Linux may lack the execute bit.
[ -x "$exe" ] || chmod +x "$exe" 2>/dev/null
cd "$root" || exit 6
exec "$exe" "$@"
