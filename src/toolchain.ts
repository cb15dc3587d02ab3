// The toolchain stage: a Go root from the tool cache, or downloaded from the Go download site,
// verified against its sha256 and cached. See DESIGN.md §3.2.

import { NotImplementedError } from './errors.ts';

export interface ToolchainRequest {
  /** The go-version input; empty when not given. */
  goVersion: string;
  /** Absolute path of the version file (go.mod, go.work, .go-version, .tool-versions). */
  goVersionFile: string;
  /** Whether go-version-file was given explicitly (a missing explicit file is an error). */
  goVersionFileExplicit: boolean;
  /** Base URL of the download site, without a trailing slash. */
  downloadBaseUrl: string;
  checkLatest: boolean;
}

export interface Toolchain {
  /** GOROOT of the installed toolchain. */
  goRoot: string;
  /** Absolute path of the `go` executable. */
  goBin: string;
  /** The version as `go version` reports it, e.g. `go1.23.4`. */
  version: string;
  cacheHit: boolean;
}

export async function setupGo(_req: ToolchainRequest, _signal: AbortSignal): Promise<Toolchain> {
  throw new NotImplementedError('toolchain');
}
