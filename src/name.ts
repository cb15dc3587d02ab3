// The name stage: `<prefix>-<first 10 hex of the commit>.exe`. See DESIGN.md §3.4.

import { NotImplementedError } from './errors.ts';

/** The artifact's file name; `.exe` only when goos is windows. Same inputs, same name. */
export function artifactName(_prefix: string, _commit: string, _goos: string): string {
  throw new NotImplementedError('name');
}
