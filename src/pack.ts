// Packages the binary and its include files into one zip ready for upload.

import { NotImplementedError } from './errors.ts';

export interface PackageRequest {
  binaryPath: string;
  artifactName: string;
  workingDirectory: string;
  /** include globs, relative to workingDirectory; a leading `!` excludes. */
  include: string[];
  /** Where the zip is written. */
  outputPath: string;
}

export interface PackageEntry {
  /** Path inside the zip, forward slashes, relative to `_target/`. */
  path: string;
  /** Uncompressed size in bytes. */
  size: number;
}

export interface ArtifactPackage {
  zipPath: string;
  zipSize: number;
  binarySize: number;
  entries: PackageEntry[];
}

export async function packageArtifact(_req: PackageRequest): Promise<ArtifactPackage> {
  throw new NotImplementedError('package');
}
