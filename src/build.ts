// The build stage: cross-compile the main package with the chosen toolchain. See DESIGN.md §3.3.

import { NotImplementedError } from './errors.ts';

export interface BuildRequest {
  goBin: string;
  workingDirectory: string;
  package: string;
  goos: string;
  goarch: string;
  /** User ldflags, appended after the stamping flags. */
  ldflags: string;
  buildFlags: string[];
  buildTags: string[];
  commit: string;
  versionLabel: string;
  /** Where the binary is written (under RUNNER_TEMP). */
  outputPath: string;
}

export interface BuildResult {
  binaryPath: string;
  size: number;
}

export async function buildBinary(_req: BuildRequest, _signal: AbortSignal): Promise<BuildResult> {
  throw new NotImplementedError('build');
}
