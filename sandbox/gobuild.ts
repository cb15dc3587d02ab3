// A windows/amd64 build of a fixture or example app with the machine's Go: the request the
// build stage gets from the pipeline, with nothing but the folder and the output path to choose.

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { BuildRequest } from '../src/artifact/compile.ts';

/** The machine's `go` executable, by absolute path as the toolchain stage hands it over. */
export const machineGoBin = path.join(
  execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } }).trim(),
  'bin',
  'go',
);

export function windowsBuildRequest(workingDirectory: string, outputPath: string, over: Partial<BuildRequest> = {}): BuildRequest {
  return {
    goBin: machineGoBin,
    workingDirectory,
    package: '.',
    goos: 'windows',
    goarch: 'amd64',
    ldflags: '',
    buildFlags: [],
    buildTags: [],
    commit: '0123456789abcdef0123456789abcdef01234567',
    versionLabel: 'v1.0.0',
    outputPath,
    // Fixtures are modules of their own, outside any workspace file the repository may have.
    env: { GOWORK: 'off' },
    ...over,
  };
}
