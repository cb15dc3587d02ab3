// The name stage: `<prefix>-<first 10 hex of the commit>.exe`. See docs/ARCHITECTURE.md, "The flow".
//
// The name is a Windows file name, a folder name (the include files ship in a folder named like the
// binary without `.exe`) and part of Kudu URLs, so it keeps to characters that are safe in all
// three: lower-case letters, digits, `.`, `_` and `-`.

import { ActionError } from '../common/errors.ts';

/** Longest prefix kept; the whole name stays well inside any path limit on the site. */
export const MAX_PREFIX_LENGTH = 40;

/** How many hex digits of the commit the name carries. */
const COMMIT_DIGITS = 10;

// Device names Windows reserves: a file whose name before the first dot is one of these cannot be
// created or opened as a normal file.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * The prefix made safe: lower-cased, every run of other characters replaced by one `-`, leading
 * and trailing separators trimmed, at most MAX_PREFIX_LENGTH characters. May return ''.
 */
export function sanitizePrefix(raw: string): string {
  let s = raw
    .normalize('NFKD')
    // Accents dropped rather than turned into separators: "Café" becomes "cafe".
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    // ".." reads as a parent folder to some tools; one dot is all a name needs.
    .replace(/\.{2,}/g, '.')
    .replace(/^[-._]+|[-._]+$/g, '');
  if (s.length > MAX_PREFIX_LENGTH) s = s.slice(0, MAX_PREFIX_LENGTH).replace(/[-._]+$/, '');
  return s;
}

/**
 * What is wrong with `prefix` as the artifact name's prefix, as an input problem naming `inputName`
 * (the input it came from); undefined when it makes a name. parseInputs reports it with the other
 * input problems, before anything is built.
 */
export function prefixProblem(prefix: string, inputName = 'artifact-prefix'): string | undefined {
  const safe = sanitizePrefix(prefix);
  if (safe === '') {
    return (
      `${inputName}: "${prefix}" has no letters or digits left after making it safe for a file name ` +
      `(allowed: a-z, 0-9, ".", "_", "-"; artifact-prefix defaults to app-name). Give an artifact-prefix such as "myapp".`
    );
  }
  const stem = safe.split('.')[0];
  if (WINDOWS_RESERVED.test(stem)) {
    return (
      `${inputName}: "${prefix}" starts with "${stem}", a device name Windows reserves (CON, PRN, AUX, NUL, COM0-9, LPT0-9); ` +
      `the artifact could not be created on the site. Give an artifact-prefix such as "${stem}-app".`
    );
  }
  return undefined;
}

/**
 * The artifact's file name; `.exe` only when goos is windows. Same inputs, same name.
 * `inputName` is the input the prefix came from, for the error message.
 */
export function artifactName(prefix: string, commit: string, goos: string, inputName = 'artifact-prefix'): string {
  const wrong = prefixProblem(prefix, inputName);
  if (wrong !== undefined) throw new ActionError(wrong);
  const safe = sanitizePrefix(prefix);
  const hex = commit.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length < COMMIT_DIGITS) {
    throw new ActionError(
      `commit: "${commit}" is not a commit SHA (at least ${COMMIT_DIGITS} hexadecimal digits are needed for the artifact name).`,
    );
  }
  const ext = goos.trim().toLowerCase() === 'windows' ? '.exe' : '';
  return `${safe}-${hex.slice(0, COMMIT_DIGITS)}${ext}`;
}

