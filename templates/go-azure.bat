@echo off
rem go-azure.bat: the launcher HttpPlatformHandler runs (web.config's processPath).
rem It starts the binary that _artifact.txt, in this script's own folder, names and passes on
rem every argument (the port). Anything it cannot do ends with one line on stderr, which
rem HttpPlatformHandler writes to the stdout log, and a non-zero exit code.
rem
rem _artifact.txt must follow the rule goazure applies before it hands over (ParseArtifact in
rem goazure/artifact.go), so that both read the same binary out of it:
rem   optional spaces, "_target\" or "_target/", <name>, ".exe", optional spaces,
rem   with at most two line-break characters (CR or LF) before and after it in all;
rem   <name> is 1 to 100 characters from A-Z a-z 0-9 . _ - and does not start with ".";
rem   the whole file is at most 256 bytes.
rem Any other content (a second line, a tab, a quote, an ampersand, percent sign, caret,
rem exclamation mark, angle bracket or pipe, another folder) is
rem refused before any of it reaches a command line, and nothing is started.
rem
rem On a scaled-out site a canary release names this instance's binary in the instance's own
rem pointer, _artifact.<WEBSITE_INSTANCE_ID>.txt beside _artifact.txt, which is read instead while
rem it exists, by the same rule (goazure/canary.go, InstanceArtifactFileName). Only an id of 1 to
rem 64 characters from A-Z a-z 0-9 - _ is used; any other id has no pointer of its own.
setlocal EnableExtensions DisableDelayedExpansion

set "GO_AZURE_ROOT=%~dp0"
set "GO_AZURE_LIST=%~dp0_artifact.txt"
rem The instance id reaches the check only as a FOR variable, which is expanded after the line is
rem parsed, so none of its characters is ever read as a command: split "set"'s line at the
rem allowed characters (and "="), and any piece left over is a character outside the rule.
rem Only once it is known to be safe is the id used in a path.
set "GO_AZURE_ID="
set "GO_AZURE_X="
if not defined WEBSITE_INSTANCE_ID goto :read_list
for /f "tokens=1,* delims==" %%A in ('set WEBSITE_INSTANCE_ID') do if /i "%%A"=="WEBSITE_INSTANCE_ID" set "GO_AZURE_ID=%%B"
for /f "delims=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" %%C in ('set WEBSITE_INSTANCE_ID') do set "GO_AZURE_X=%%C"
if defined GO_AZURE_X goto :read_list
if not defined GO_AZURE_ID goto :read_list
call :length GO_AZURE_ID
if %GO_AZURE_N% GTR 64 goto :read_list
if exist "%GO_AZURE_ROOT%_artifact.%GO_AZURE_ID%.txt" set "GO_AZURE_LIST=%GO_AZURE_ROOT%_artifact.%GO_AZURE_ID%.txt"

:read_list
if not exist "%GO_AZURE_LIST%" goto :no_list

rem The rule allows at most 256 bytes, which also bounds the work below.
for %%F in ("%GO_AZURE_LIST%") do if %%~zF GTR 256 goto :invalid

rem FOR /F skips empty lines, and lines that start with its eol character. Counting the lines
rem once with eol=; and once with eol=| sees every other line in at least one of the counts.
rem FOR variables are expanded after the line is parsed, so %%L is never read as a command.
set "GO_AZURE_LINE="
set /a GO_AZURE_LINES1=0, GO_AZURE_LINES2=0
for /f "usebackq eol=; delims=" %%L in ("%GO_AZURE_LIST%") do (
  set "GO_AZURE_X=%%L"
  if defined GO_AZURE_X (
    set /a GO_AZURE_LINES1+=1
    set "GO_AZURE_LINE=%%L"
  )
)
for /f "usebackq eol=| delims=" %%L in ("%GO_AZURE_LIST%") do (
  set "GO_AZURE_X=%%L"
  if defined GO_AZURE_X set /a GO_AZURE_LINES2+=1
)
if "%GO_AZURE_LINES1%,%GO_AZURE_LINES2%"=="0,0" goto :gone_or_empty
if not "%GO_AZURE_LINES1%,%GO_AZURE_LINES2%"=="1,1" goto :invalid

rem Every character must be an allowed one, a separator or a space: split the file at those, and
rem any piece left over is a character outside the rule. Again once per eol character.
set "GO_AZURE_BAD="
for /f "usebackq eol=; delims=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-\/ " %%C in ("%GO_AZURE_LIST%") do (
  set "GO_AZURE_X=%%C"
  if defined GO_AZURE_X set "GO_AZURE_BAD=1"
)
for /f "usebackq eol=| delims=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-\/ " %%C in ("%GO_AZURE_LIST%") do (
  set "GO_AZURE_X=%%C"
  if defined GO_AZURE_X set "GO_AZURE_BAD=1"
)
if defined GO_AZURE_BAD goto :invalid

rem From here on the line holds only safe characters. FOR /F cannot see a NUL byte (the line
rem ends there) nor count empty lines: the file's size tells whether anything but the line and
rem at most two line-break characters is in it.
call :length GO_AZURE_LINE
for %%F in ("%GO_AZURE_LIST%") do set /a GO_AZURE_EXTRA=%%~zF-GO_AZURE_N
if %GO_AZURE_EXTRA% LSS 0 goto :invalid
if %GO_AZURE_EXTRA% GTR 2 goto :invalid

rem Spaces may surround the name but not be inside it.
set "GO_AZURE_NAME="
set "GO_AZURE_REST="
for /f "tokens=1,* delims= " %%A in ("%GO_AZURE_LINE%") do (
  set "GO_AZURE_NAME=%%A"
  set "GO_AZURE_REST=%%B"
)
if not defined GO_AZURE_NAME goto :invalid
if defined GO_AZURE_REST goto :invalid
set "GO_AZURE_NAME=%GO_AZURE_NAME:/=\%"
if not "%GO_AZURE_NAME:~0,8%"=="_target\" goto :invalid
set "GO_AZURE_FILE=%GO_AZURE_NAME:~8%"
if not defined GO_AZURE_FILE goto :invalid
if not "%GO_AZURE_FILE:~-4%"==".exe" goto :invalid
set "GO_AZURE_STEM=%GO_AZURE_FILE:~0,-4%"
if not defined GO_AZURE_STEM goto :invalid
if not "%GO_AZURE_STEM:\=%"=="%GO_AZURE_STEM%" goto :invalid
if "%GO_AZURE_STEM:~0,1%"=="." goto :invalid
call :length GO_AZURE_STEM
if %GO_AZURE_N% GTR 100 goto :invalid

set "GO_AZURE_EXE=%GO_AZURE_ROOT%_target\%GO_AZURE_FILE%"
if not exist "%GO_AZURE_EXE%" goto :no_binary
if exist "%GO_AZURE_EXE%\*" goto :no_binary

rem Delayed expansion below would take a "!" out of the path (App Service's is D:\home\site\wwwroot).
if not "%GO_AZURE_ROOT:!=%"=="%GO_AZURE_ROOT%" goto :bang
cd /d "%GO_AZURE_ROOT%"
rem The app and the exit are one block, which cmd reads whole before it runs it: once the app
rem exits, cmd ends without reading this file again. IIS sees the process end sooner (D:\home
rem is a network share), and a newer launcher written over this one meanwhile is never read
rem from the middle. The exit code is read when the app has exited, hence delayed expansion.
setlocal EnableDelayedExpansion
(
  "%GO_AZURE_EXE%" %*
  exit /b !ERRORLEVEL!
)

:gone_or_empty
rem The instance's own pointer was removed between the check and the read (the canary promoted
rem or rolled back): _artifact.txt applies again.
if not "%GO_AZURE_LIST%"=="%GO_AZURE_ROOT%_artifact.txt" if not exist "%GO_AZURE_LIST%" (
  set "GO_AZURE_LIST=%GO_AZURE_ROOT%_artifact.txt"
  goto :read_list
)
goto :empty_list

:no_list
echo go-azure.bat: "%GO_AZURE_LIST%" does not exist; deploy an artifact so that it names the binary to run. 1>&2
exit /b 2

:empty_list
echo go-azure.bat: "%GO_AZURE_LIST%" names no binary (it is empty); deploy an artifact again. 1>&2
exit /b 3

:no_binary
echo go-azure.bat: "%GO_AZURE_EXE%", named by "%GO_AZURE_LIST%", does not exist or is not a file; deploy that artifact again. 1>&2
exit /b 4

:invalid
echo go-azure.bat: "%GO_AZURE_LIST%" is not one line "_target\<name>.exe" with a name of A-Z, a-z, 0-9, ".", "_" and "-"; nothing was started. Deploy an artifact again. 1>&2
exit /b 5

:bang
echo go-azure.bat: the site folder "%GO_AZURE_ROOT%" has a "!" in its path, from which this launcher cannot start a binary; use a folder without one. 1>&2
exit /b 6

:length
rem Sets GO_AZURE_N to the length of the variable named %1, which holds only safe characters.
rem One character at a time: Wine's cmd cannot take a substring that starts past the end.
set /a GO_AZURE_N=0
call set "GO_AZURE_S=%%%1%%"
:length_next
if not defined GO_AZURE_S exit /b 0
set "GO_AZURE_S=%GO_AZURE_S:~1%"
set /a GO_AZURE_N+=1
goto :length_next
