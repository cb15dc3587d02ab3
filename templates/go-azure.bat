@echo off
rem go-azure.bat: the launcher HttpPlatformHandler runs (web.config's processPath).
rem It starts the binary that _artifact.txt, in this script's own folder, names (a path relative
rem to that folder, e.g. _target\site-0123456789.exe) and passes on every argument (the port).
rem Anything it cannot do ends with one line on stderr, which HttpPlatformHandler writes to the
rem stdout log, and a non-zero exit code.
setlocal EnableExtensions DisableDelayedExpansion

set "GO_AZURE_ROOT=%~dp0"
set "GO_AZURE_LIST=%~dp0_artifact.txt"
if not exist "%GO_AZURE_LIST%" goto :no_list

rem FOR /F reads the first non-empty line whether it ends in CRLF, in LF or in nothing at all.
set "GO_AZURE_ARTIFACT="
for /f "usebackq tokens=* delims=" %%L in ("%GO_AZURE_LIST%") do (
  if not defined GO_AZURE_ARTIFACT set "GO_AZURE_ARTIFACT=%%L"
)
if not defined GO_AZURE_ARTIFACT goto :empty_list

rem Blanks around the name would make the path name a file that does not exist.
:trim_start
if "%GO_AZURE_ARTIFACT:~0,1%"==" " (
  set "GO_AZURE_ARTIFACT=%GO_AZURE_ARTIFACT:~1%"
  goto :trim_start
)
:trim_end
if "%GO_AZURE_ARTIFACT:~-1%"==" " (
  set "GO_AZURE_ARTIFACT=%GO_AZURE_ARTIFACT:~0,-1%"
  goto :trim_end
)
set "GO_AZURE_ARTIFACT=%GO_AZURE_ARTIFACT:/=\%"
set "GO_AZURE_EXE=%GO_AZURE_ROOT%%GO_AZURE_ARTIFACT%"
if not exist "%GO_AZURE_EXE%" goto :no_binary

cd /d "%GO_AZURE_ROOT%"
"%GO_AZURE_EXE%" %*
exit /b %ERRORLEVEL%

:no_list
echo go-azure.bat: "%GO_AZURE_LIST%" does not exist; deploy an artifact so that it names the binary to run. 1>&2
exit /b 2

:empty_list
echo go-azure.bat: "%GO_AZURE_LIST%" names no binary (it is empty); deploy an artifact again. 1>&2
exit /b 3

:no_binary
echo go-azure.bat: "%GO_AZURE_EXE%", named by "%GO_AZURE_LIST%", does not exist; deploy that artifact again. 1>&2
exit /b 4
