// The inputs stage: raw action inputs in, one typed and validated Config out. Every problem is
// collected and reported at once, each naming its input, so a user fixes the workflow in one go.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors.ts';
import { redactQuery } from './redact.ts';
import { checkBuildFlags } from '../artifact/compile.ts';
import { loadPackage, type LoadedPackage } from '../artifact/prebuilt.ts';
import { prefixProblem } from '../artifact/name.ts';

export type CloudName = 'AzureCloud' | 'AzureUSGovernment' | 'AzureChinaCloud';
export const CLOUDS: readonly CloudName[] = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'];

/** How the action signs in to the site's Kudu (SCM) endpoint. */
export type AuthConfig =
  | { kind: 'publish-profile'; profileXml: string }
  | {
      kind: 'entra-id';
      clientId: string;
      tenantId: string;
      /** Empty: GitHub OIDC with `audience`. */
      clientSecret: string;
      audience: string;
    }
  | { kind: 'azure-cli' };

export interface Config {
  appName: string;
  /** `production` for the site itself. */
  slotName: string;
  auth: AuthConfig;
  subscriptionId: string;
  resourceGroupName: string;
  environment: CloudName;
  /** Overrides the SCM base URL; empty when not given. */
  kuduUrl: string;
  swapSlot: string;

  goVersion: string;
  /** Absolute path; may not exist (then the version comes from go-version or fails). */
  goVersionFile: string;
  /** True when go-version-file was given explicitly rather than defaulted. */
  goVersionFileExplicit: boolean;
  goDownloadBaseUrl: string;
  checkLatest: boolean;

  /** Absolute path of the folder with the Go module. */
  workingDirectory: string;
  package: string;
  buildTags: string[];
  ldflags: string;
  buildFlags: string[];
  goos: string;
  goarch: string;
  artifactPrefix: string;
  /** Lower-case hex, at least 10 digits. */
  commit: string;
  /** Stamped as main.version: the tag name for a tag build, else the commit. */
  versionLabel: string;
  include: string[];
  /** Restore and save Go's module and build caches (src/artifact/gocache.ts). */
  cache: boolean;
  /** Globs of the files hashed into the cache key, relative to the working directory; empty: go.sum, go.work.sum. */
  cacheDependencyPath: string[];
  /** Whether the Go caches may be saved: auto saves only from trusted runs (src/artifact/gocache.ts, cacheWriteRefusal). */
  cacheWrite: 'auto' | 'true' | 'false';

  keep: number;
  bootstrap: boolean;
  verify: boolean;
  verifyTimeoutSeconds: number;
  /** Path verify requests on each instance; '' = the site's health check path from ARM, else `/`. */
  healthPath: string;
  /** Statuses of `healthPath` that count as healthy. */
  healthStatus: StatusSet;
  /** Seconds to keep watching the new version once healthy; 0 = off. */
  watchSeconds: number;
  /** Release to one instance first (src/site/canary.ts), watch it, then to every instance. */
  canary: boolean;
  /** How long the canary instance is watched before the release goes to every instance. */
  canarySeconds: number;
  /** Percentage points by which the canary's 5xx rate may exceed the other instances'. */
  canaryMaxErrorRateIncrease: number;
  autoRollback: boolean;
  timeoutSeconds: number;
  rollback: boolean;
  /** A version to roll back to (artifact name or commit prefix); '' for none. Implies rollback. */
  rollbackTo: string;
  /** Deploy even when the site runs a version deployed after this commit was. */
  allowOlder: boolean;
  /** Show the tail of the app's stdout log when a version does not come up: auto hides it on public repositories. */
  showAppLog: 'auto' | 'true' | 'false';
  dryRun: boolean;
  /** Build and package only (no site is touched): the package folder is the step's output. */
  buildOnly: boolean;
  /** The package a build-only run wrote, to deploy instead of building (from-package). */
  fromPackage?: LoadedPackage;
  /** With from-package: the content hash the package must have (lower-case hex); '' when not given. */
  expectedContentHash: string;
}

/**
 * Inputs that only a deploy reads, with the default action.yml gives them (the runner passes
 * defaults as if set): any other value given to a build-only run is refused.
 */
export const DEPLOY_ONLY_INPUTS: Readonly<Record<string, string>> = {
  'slot-name': 'production', 'publish-profile': '', 'client-id': '', 'tenant-id': '', 'subscription-id': '',
  'client-secret': '', 'resource-group-name': '', audience: 'api://AzureADTokenExchange', environment: 'AzureCloud',
  'kudu-url': '', 'swap-target-slot': '', keep: '3', bootstrap: 'true', verify: 'true', 'verify-timeout-seconds': '120',
  'auto-rollback': 'true', rollback: '', 'allow-older': 'false', 'show-app-log': 'auto', 'dry-run': 'false',
  'health-path': '', 'health-status': '200-299', 'watch-seconds': '0', 'expected-content-hash': '',
  canary: 'false', 'canary-seconds': '60', 'canary-max-error-rate-increase': '1',
};

/** Inputs that only a build reads, with their action.yml defaults: refused next to from-package. */
export const BUILD_ONLY_INPUTS: Readonly<Record<string, string>> = {
  'go-version': '', 'go-version-file': '', 'go-download-base-url': 'https://go.dev/dl', 'check-latest': 'false',
  'working-directory': '.', 'main-package': '.', 'build-tags': '', ldflags: '', 'build-flags': '', 'artifact-prefix': '', include: '',
  cache: 'true', 'cache-dependency-path': '', 'cache-write': 'auto',
};

/** A set of HTTP statuses written as ranges and single codes, e.g. `200-299` or `200,204,300-399`. */
export interface StatusSet {
  /** As written in the input, normalized: `200-299`. */
  text: string;
  ranges: readonly (readonly [number, number])[];
}

export function statusAllowed(set: StatusSet, status: number | undefined): boolean {
  return status !== undefined && set.ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

/** Parses `200-299`, `200,204` or `200-299, 304`; null when it is not such a list of 100..599. */
export function parseStatusSet(raw: string): StatusSet | null {
  const parts = raw.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const ranges: [number, number][] = [];
  for (const part of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (m === null) return null;
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    if (lo < 100 || hi > 599 || hi < lo) return null;
    ranges.push([lo, hi]);
  }
  return { text: ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(','), ranges };
}

/** Reads one raw input by name, as `core.getInput` does (trimmed, '' when absent). */
export type InputReader = (name: string) => string;

/**
 * Inputs renamed in 1.x, old name → new name: the only place renames live. The old name keeps
 * working through 1.x with a warning that names the new one; giving both is an error naming both.
 * `defaults` are the new name's values that count as not given: action.yml's default (the runner
 * passes a default as if it were given), and for `rollback` the booleans it took before it also
 * took a version (`rollback: true` with `rollback-to: <version>` was the old way to name one).
 */
export const RENAMED_INPUTS: readonly { old: string; new: string; defaults: readonly string[] }[] = [
  { old: 'package', new: 'main-package', defaults: ['', '.'] },
  { old: 'swap-slot', new: 'swap-target-slot', defaults: [''] },
  { old: 'timeout', new: 'timeout-seconds', defaults: ['', '600'] },
  { old: 'verify-timeout', new: 'verify-timeout-seconds', defaults: ['', '120'] },
  { old: 'rollback-to', new: 'rollback', defaults: ['', 'true', 'yes', 'on', '1', 'false', 'no', 'off', '0'] },
];

/**
 * A reader that answers for the new names from the old ones when only an old one is given, and
 * the warnings and problems that reading the old names gives. Old names read as ''.
 */
function resolveRenamedInputs(input: InputReader): { read: InputReader; warnings: string[]; problems: string[]; asWritten: (problem: string) => string } {
  const raw = (name: string): string => (input(name) ?? '').trim();
  const fromOld = new Map<string, string>();
  const warnings: string[] = [];
  const problems: string[] = [];
  for (const r of RENAMED_INPUTS) {
    const oldValue = raw(r.old);
    if (oldValue === '') continue;
    const newValue = raw(r.new);
    if (!r.defaults.includes(newValue.toLowerCase())) {
      problems.push(`${r.old}: given together with ${r.new}, its new name; drop ${r.old} and keep ${r.new}.`);
      continue;
    }
    warnings.push(`${r.old} is deprecated and will be removed in 2.0; rename it to ${r.new} (same value).`);
    fromOld.set(r.new, oldValue);
  }
  const old = new Set(RENAMED_INPUTS.map((r) => r.old));
  const read = (name: string): string => fromOld.get(name) ?? (old.has(name) ? '' : input(name) ?? '');
  // A problem with a value given under the old name names the input as the workflow wrote it.
  const asWritten = (problem: string): string => {
    const r = RENAMED_INPUTS.find((x) => fromOld.has(x.new) && raw(x.old) !== '' && problem.startsWith(`${x.new}:`));
    return r === undefined ? problem : `${r.old} (renamed ${r.new})${problem.slice(r.new.length)}`;
  };
  return { read, warnings, problems, asWritten };
}

/** Every target Go can build for (`go tool dist list`), without the cgo-only mobile ones. */
export const GO_TARGETS: ReadonlySet<string> = new Set([
  'aix/ppc64', 'darwin/amd64', 'darwin/arm64', 'dragonfly/amd64', 'freebsd/386', 'freebsd/amd64',
  'freebsd/arm', 'freebsd/arm64', 'illumos/amd64', 'js/wasm', 'linux/386', 'linux/amd64', 'linux/arm',
  'linux/arm64', 'linux/loong64', 'linux/mips', 'linux/mips64', 'linux/mips64le', 'linux/mipsle',
  'linux/ppc64', 'linux/ppc64le', 'linux/riscv64', 'linux/s390x', 'netbsd/386', 'netbsd/amd64',
  'netbsd/arm', 'netbsd/arm64', 'openbsd/386', 'openbsd/amd64', 'openbsd/arm', 'openbsd/arm64',
  'openbsd/ppc64', 'openbsd/riscv64', 'plan9/386', 'plan9/amd64', 'plan9/arm', 'solaris/amd64',
  'wasip1/wasm', 'windows/386', 'windows/amd64', 'windows/arm64',
]);

/** Inputs whose whole value is a secret. */
const SECRET_INPUTS = ['publish-profile', 'client-secret'];
/** URL inputs whose user info may carry credentials (a private Go mirror's token, say). */
const URL_INPUTS = ['kudu-url', 'go-download-base-url'];

/**
 * Every secret in the raw inputs, for the entry point to mask before anything is logged: the secret
 * inputs whole, and the user info of URL inputs (the password as written and decoded, and
 * `user:password`; a user name alone, as in https://<token>@host, is taken for a token).
 */
export function secretValues(input: InputReader): string[] {
  const secrets = new Set<string>();
  for (const name of SECRET_INPUTS) {
    const value = (input(name) ?? '').trim();
    if (value !== '') secrets.add(value);
  }
  for (const name of URL_INPUTS) {
    let u: URL;
    try {
      u = new URL((input(name) ?? '').trim());
    } catch {
      continue;
    }
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    if (u.password !== '') {
      for (const form of [u.password, decode(u.password), `${u.username}:${u.password}`, `${decode(u.username)}:${decode(u.password)}`]) secrets.add(form);
    } else if (u.username !== '') {
      secrets.add(u.username);
      secrets.add(decode(u.username));
    }
  }
  return [...secrets];
}

/** Whether two commit SHAs name the same commit: equal, or one a prefix (10+ digits) of the other. */
function sameCommit(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x !== '' && y !== '' && (x.startsWith(y) || y.startsWith(x));
}

/**
 * Why a package may not deploy in this run, from where it came: its manifest's commit against the
 * run's commit (the commit input when given, else GITHUB_SHA), and its content hash against
 * expected-content-hash when given. Each problem names both values and what to do.
 */
function packageOriginProblems(m: { commit: string; content: string }, run: { commitInput: string; githubSha: string; expectedContent: string }): string[] {
  const problems: string[] = [];
  const commitInput = run.commitInput.trim();
  if (commitInput !== '') {
    if (!sameCommit(commitInput, m.commit)) {
      problems.push(`commit: "${commitInput.toLowerCase()}" is not the commit the package was built from (${m.commit}); drop commit, or deploy the package of that commit.`);
    }
  } else if (run.githubSha === '') {
    problems.push(`from-package: the package was built from commit ${m.commit}, and this run names no commit to check it against (GITHUB_SHA is not set); set commit: ${m.commit} to deploy this package deliberately.`);
  } else if (!sameCommit(run.githubSha, m.commit)) {
    problems.push(
      `from-package: the package was built from commit ${m.commit}, but this run's commit is ${run.githubSha.toLowerCase()} (GITHUB_SHA); ` +
        `a package deploys only in a run of the commit it was built from, so a package another run built (a pull request's, say) is not deployed by accident. ` +
        `To deploy this package deliberately, set commit: ${m.commit} (and expected-content-hash to the content hash you trust).`,
    );
  }
  if (run.expectedContent !== '' && run.expectedContent !== m.content) {
    problems.push(`expected-content-hash: the package's content hash is ${m.content}, not ${run.expectedContent}; this is not the package the build job made. Pass the package the job that output that content hash wrote.`);
  }
  return problems;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/**
 * Turns raw inputs and the runner's environment into a Config, or throws an InputError listing
 * every problem. `cwd` is the folder relative inputs are resolved from (the workspace). Deprecated
 * input names (RENAMED_INPUTS) are read as their new ones, each with a warning through `warn`.
 */
export function parseInputs(rawInput: InputReader, env: NodeJS.ProcessEnv, cwd: string, warn: (message: string) => void = () => {}): Config {
  const renamed = resolveRenamedInputs(rawInput);
  const input = renamed.read;
  const problems: string[] = [...renamed.problems];
  renamed.warnings.forEach((w) => warn(w));
  const get = (name: string): string => (input(name) ?? '').trim();

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === '') return fallback;
    const word = raw.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    problems.push(`${name}: "${raw}" is not a boolean; use true or false.`);
    return fallback;
  };

  const count = (name: string, fallback: number, min: number): number => {
    const raw = get(name);
    if (raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      problems.push(`${name}: "${raw}" is not a whole number${min > 0 ? ` of at least ${min}` : ''}.`);
      return fallback;
    }
    return Number(raw);
  };

  // A time limit is a positive number of seconds; with `off`, 0 turns the thing off, up to `off.max`.
  const seconds = (name: string, fallback: number, off?: { max: number }): number => {
    const raw = get(name);
    if (raw === '') return fallback;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || (off === undefined ? !(n > 0) : n > off.max)) {
      problems.push(off === undefined ? `${name}: "${raw}" is not a positive number of seconds.` : `${name}: "${raw}" is not a number of seconds from 0 (off) to ${off.max}.`);
      return fallback;
    }
    return n;
  };

  const url = (name: string, fallback: string): string => {
    const raw = get(name);
    if (raw === '') return fallback;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name}: "${raw}" is not an http(s) URL.`);
      return fallback;
    }
  };

  // --- build once, deploy many ---------------------------------------------------------------
  const buildOnly = bool('build-only', false);
  const fromPackageRaw = get('from-package');
  const setBeyondDefault = (table: Readonly<Record<string, string>>): string[] =>
    Object.entries(table).filter(([name, fallback]) => get(name) !== '' && get(name).toLowerCase() !== fallback.toLowerCase()).map(([name]) => name);
  if (buildOnly && fromPackageRaw !== '') {
    problems.push('from-package: given with build-only: true; a step either builds a package (build-only) or deploys one (from-package), not both.');
  } else if (buildOnly) {
    for (const name of setBeyondDefault(DEPLOY_ONLY_INPUTS)) {
      problems.push(`${name}: only a deploy reads it, and build-only: true changes no site; give it to the step that deploys the package (from-package).`);
    }
  } else if (fromPackageRaw !== '') {
    for (const name of setBeyondDefault(BUILD_ONLY_INPUTS)) {
      problems.push(`${name}: a build setting, but from-package deploys a package built earlier (its manifest records how); set it on the build-only step, or drop from-package to build here.`);
    }
  }

  // --- the site -------------------------------------------------------------------------------
  const appName = get('app-name');
  if (appName === '' && buildOnly) {
    if (get('artifact-prefix') === '') problems.push('app-name: a build-only run needs app-name or artifact-prefix to name the artifact; give artifact-prefix (e.g. your app\'s name) when the package goes to several sites.');
  } else if (appName === '') {
    problems.push('app-name: required; give the name of the App Service site.');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$|^[A-Za-z0-9]$/.test(appName)) {
    problems.push(`app-name: "${appName}" is not a valid App Service name (letters, digits and inner hyphens, at most 60).`);
  }
  const slotName = get('slot-name') || 'production';
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(slotName)) {
    problems.push(`slot-name: "${slotName}" is not a valid slot name (letters, digits and hyphens).`);
  }
  const swapSlot = get('swap-target-slot');
  if (swapSlot !== '' && swapSlot.toLowerCase() === slotName.toLowerCase()) {
    problems.push(`swap-target-slot: "${swapSlot}" is the slot being deployed to; name the slot to swap into (usually production).`);
  } else if (swapSlot !== '' && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(swapSlot)) {
    problems.push(`swap-target-slot: "${swapSlot}" is not a valid slot name (letters, digits and hyphens).`);
  }

  // --- credentials ----------------------------------------------------------------------------
  const publishProfile = get('publish-profile');
  const clientId = get('client-id');
  const tenantId = get('tenant-id');
  const clientSecret = get('client-secret');
  const audience = get('audience') || 'api://AzureADTokenExchange';
  let auth: AuthConfig = { kind: 'azure-cli' };
  const entraGiven = [
    clientId && 'client-id',
    tenantId && 'tenant-id',
    clientSecret && 'client-secret',
  ].filter((x): x is string => Boolean(x));
  if (publishProfile !== '' && entraGiven.length > 0) {
    problems.push(
      `publish-profile: given together with ${entraGiven.join(', ')}; that is ambiguous. ` +
        `Drop publish-profile to sign in with Entra ID, or drop ${entraGiven.join(', ')} to use the publish profile.`,
    );
  } else if (publishProfile !== '') {
    auth = { kind: 'publish-profile', profileXml: publishProfile };
  } else if (entraGiven.length > 0) {
    if (clientId === '') problems.push(`client-id: required with ${tenantId ? 'tenant-id' : 'client-secret'}; give the application (client) ID.`);
    if (tenantId === '') problems.push('tenant-id: required with client-id; give the directory (tenant) ID.');
    auth = { kind: 'entra-id', clientId, tenantId, clientSecret, audience };
  }

  const environment = get('environment') || 'AzureCloud';
  const cloud = CLOUDS.find((c) => c.toLowerCase() === environment.toLowerCase());
  if (cloud === undefined) {
    problems.push(`environment: "${environment}" is not one of ${CLOUDS.join(', ')}.`);
  }
  const kuduUrl = url('kudu-url', '');

  // --- toolchain and build --------------------------------------------------------------------
  const wdRaw = get('working-directory') || '.';
  const workingDirectory = path.resolve(cwd, wdRaw);
  let wdOk = false;
  try {
    wdOk = fs.statSync(workingDirectory).isDirectory();
  } catch {
    wdOk = false;
  }
  if (!wdOk && fromPackageRaw === '') {
    problems.push(`working-directory: "${wdRaw}" does not exist (resolved to ${workingDirectory}); check the path, and that the repository was checked out (actions/checkout).`);
  }
  const goVersionFileRaw = get('go-version-file');
  const goVersionFile = path.resolve(workingDirectory, goVersionFileRaw || 'go.mod');

  const goos = (get('goos') || 'windows').toLowerCase();
  const goarch = (get('goarch') || 'amd64').toLowerCase();
  if (!GO_TARGETS.has(`${goos}/${goarch}`)) {
    const archs = [...GO_TARGETS].filter((t) => t.startsWith(`${goos}/`)).map((t) => t.split('/')[1]);
    problems.push(
      archs.length > 0
        ? `goos/goarch: Go cannot build ${goos}/${goarch}; for ${goos} use one of ${archs.join(', ')}.`
        : `goos: "${goos}" is not an operating system Go can build for (App Service on Windows needs windows).`,
    );
  }

  const include = input('include')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  // The include files go to _target/<name>/, beside _target/<name>.exe (goazure.AssetDir); a
  // build for another system has no ".exe", so the binary's own path would be that folder. With
  // from-package nothing is built here, and include is refused as a build setting below.
  if (include.length > 0 && goos !== 'windows' && fromPackageRaw === '') {
    problems.push(`include: the files ship in _target/<name>/ beside _target/<name>.exe, and a build for goos "${goos}" has no ".exe", so the binary would take that folder's name; use include with goos windows (App Service on Windows), or leave include empty.`);
  }

  // rollback: previous, an artifact name or a commit prefix; true (the 1.0 form) means previous.
  const rollbackRaw = get('rollback');
  let rollbackInput = false;
  let rollbackTo = '';
  if (rollbackRaw === '' || FALSE_WORDS.has(rollbackRaw.toLowerCase())) {
    rollbackInput = false;
  } else if (TRUE_WORDS.has(rollbackRaw.toLowerCase()) || rollbackRaw.toLowerCase() === 'previous') {
    rollbackInput = true;
    if (rollbackRaw.toLowerCase() !== 'previous') warn(`rollback: ${rollbackRaw} is deprecated and will be refused in 2.0; write rollback: previous (same meaning).`);
  } else if (/^[0-9a-f]{7,64}$/i.test(rollbackRaw) || /^[A-Za-z0-9._-]+-[0-9a-f]{10}(-[0-9a-f]{6})?(\.exe)?$/i.test(rollbackRaw)) {
    rollbackInput = true;
    rollbackTo = rollbackRaw;
  } else {
    problems.push(`rollback: "${rollbackRaw}" is neither previous, an artifact name (e.g. mysite-0123456789.exe) nor a commit prefix of at least 7 hex digits; the deploy record lists the versions.`);
  }
  // A package deploys only to the run of the commit it was built from: the manifest travels with
  // the zip, so whoever can replace one can replace both, and only the run's commit (GITHUB_SHA,
  // or the commit input a workflow author sets on purpose) and the build job's own content-hash
  // output (expected-content-hash) come from outside the package.
  let fromPackage: LoadedPackage | undefined;
  const expectedContentRaw = get('expected-content-hash');
  const expectedContent = expectedContentRaw.toLowerCase();
  if (expectedContentRaw !== '' && !/^[0-9a-f]{64}$/.test(expectedContent)) {
    problems.push(`expected-content-hash: "${expectedContentRaw}" is not a sha256 (64 hexadecimal digits); pass the build job's content-hash output (needs.<job>.outputs.content-hash).`);
  } else if (expectedContentRaw !== '' && fromPackageRaw === '' && !buildOnly) {
    problems.push('expected-content-hash: only a package is checked against it; give it with from-package, or drop it.');
  }
  if (fromPackageRaw !== '' && !buildOnly && GO_TARGETS.has(`${goos}/${goarch}`)) {
    const found = loadPackage(fromPackageRaw, cwd, { goos, goarch });
    problems.push(...found.problems);
    fromPackage = found.loaded;
    if (fromPackage !== undefined) problems.push(...packageOriginProblems(fromPackage.manifest, { commitInput: get('commit'), githubSha: (env.GITHUB_SHA ?? '').trim(), expectedContent: /^[0-9a-f]{64}$/.test(expectedContent) ? expectedContent : '' }));
    if (rollbackInput) problems.push('rollback: rolls back to a version on the site and uploads nothing; drop from-package, or rollback.');
  }
  const commitRaw = fromPackage?.manifest.commit ?? (get('commit') || (env.GITHUB_SHA ?? '').trim());
  let commit = commitRaw.toLowerCase();
  if (commitRaw === '' && fromPackageRaw !== '') {
    // from-package's own problem says why there is no commit.
  } else if (commitRaw === '') {
    problems.push('commit: not given and GITHUB_SHA is not set; pass the commit SHA the binary is built from.');
  } else if (!/^[0-9a-f]{10,64}$/.test(commit)) {
    problems.push(`commit: "${commitRaw}" must be at least 10 hexadecimal digits of a commit SHA.`);
    commit = '';
  }
  const isTag = env.GITHUB_REF_TYPE === 'tag' && (env.GITHUB_REF_NAME ?? '') !== '';
  const versionLabel = isTag ? (env.GITHUB_REF_NAME as string) : commit;

  const showRaw = (get('show-app-log') || 'auto').toLowerCase();
  let showAppLog: Config['showAppLog'] = 'auto';
  if (showRaw === 'auto') showAppLog = 'auto';
  else if (TRUE_WORDS.has(showRaw)) showAppLog = 'true';
  else if (FALSE_WORDS.has(showRaw)) showAppLog = 'false';
  else problems.push(`show-app-log: "${showRaw}" is not auto, true or false.`);

  // The artifact name's prefix, when this run builds: a bad one is reported here, with the rest
  // (app-name's own problem, if it has one, already says what is wrong with it).
  const prefixInput = get('artifact-prefix') !== '' ? 'artifact-prefix' : 'app-name';
  const artifactPrefix = get('artifact-prefix') || appName;
  const builds = fromPackageRaw === '' && !rollbackInput && rollbackTo === '';
  if (builds && artifactPrefix !== '' && !problems.some((p) => p.startsWith(`${prefixInput}:`))) {
    const wrong = prefixProblem(artifactPrefix, prefixInput);
    if (wrong !== undefined) problems.push(wrong);
  }
  const cacheWriteRaw = (get('cache-write') || 'auto').toLowerCase();
  let cacheWrite: Config['cacheWrite'] = 'auto';
  if (TRUE_WORDS.has(cacheWriteRaw)) cacheWrite = 'true';
  else if (FALSE_WORDS.has(cacheWriteRaw)) cacheWrite = 'false';
  else if (cacheWriteRaw !== 'auto') problems.push(`cache-write: "${cacheWriteRaw}" is not auto, true or false.`);

  const splitWords = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);
  // Checked here, not at build time, so a bad flag is reported with every other input problem
  // before anything is downloaded.
  const buildFlags = get('build-flags').split(/\s+/).filter(Boolean);
  problems.push(...checkBuildFlags(buildFlags));

  const healthPath = get('health-path');
  if (healthPath !== '' && (!healthPath.startsWith('/') || /[\s#]/.test(healthPath) || healthPath.startsWith('//'))) {
    problems.push(`health-path: "${redactQuery(healthPath)}" must be a path on the site starting with one /, e.g. /healthz (a query is allowed).`);
  }
  const healthStatusRaw = get('health-status') || '200-299';
  const healthStatus = parseStatusSet(healthStatusRaw);
  if (healthStatus === null) {
    problems.push(`health-status: "${healthStatusRaw}" is not a list of HTTP statuses or ranges (100-599), e.g. 200-299 or 200,204.`);
  }
  const watchSeconds = seconds('watch-seconds', 0, { max: 3600 });
  const canary = bool('canary', false);
  const canarySeconds = seconds('canary-seconds', 60);
  if (canarySeconds > 3600) problems.push(`canary-seconds: "${get('canary-seconds')}" is more than 3600 (an hour).`);
  const marginRaw = get('canary-max-error-rate-increase');
  const margin = marginRaw === '' ? 1 : Number(marginRaw);
  if (marginRaw !== '' && (!/^\d+(\.\d+)?$/.test(marginRaw) || margin > 100)) {
    problems.push(`canary-max-error-rate-increase: "${marginRaw}" is not a number of percentage points from 0 to 100, e.g. 1.`);
  }

  const cfg: Config = {
    appName,
    slotName,
    auth,
    subscriptionId: get('subscription-id'),
    resourceGroupName: get('resource-group-name'),
    environment: cloud ?? 'AzureCloud',
    kuduUrl,
    swapSlot,
    goVersion: get('go-version'),
    goVersionFile,
    goVersionFileExplicit: goVersionFileRaw !== '',
    goDownloadBaseUrl: url('go-download-base-url', 'https://go.dev/dl'),
    checkLatest: bool('check-latest', false),
    workingDirectory,
    package: get('main-package') || '.',
    buildTags: splitWords(get('build-tags')),
    ldflags: get('ldflags'),
    buildFlags,
    goos,
    goarch,
    artifactPrefix,
    commit,
    versionLabel,
    include,
    cache: bool('cache', true),
    cacheDependencyPath: input('cache-dependency-path')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
    cacheWrite,
    keep: count('keep', 3, 0),
    bootstrap: bool('bootstrap', true),
    verify: bool('verify', true),
    verifyTimeoutSeconds: seconds('verify-timeout-seconds', 120),
    healthPath,
    healthStatus: healthStatus ?? { text: '200-299', ranges: [[200, 299]] },
    watchSeconds,
    canary,
    canarySeconds,
    canaryMaxErrorRateIncrease: Number.isFinite(margin) && margin <= 100 ? margin : 1,
    autoRollback: bool('auto-rollback', true),
    timeoutSeconds: seconds('timeout-seconds', 600),
    rollback: rollbackInput,
    rollbackTo,
    allowOlder: bool('allow-older', false),
    showAppLog,
    dryRun: bool('dry-run', false),
    buildOnly,
    fromPackage,
    expectedContentHash: /^[0-9a-f]{64}$/.test(expectedContent) ? expectedContent : '',
  };

  if (cfg.canary && !cfg.rollback && !cfg.buildOnly) {
    // The canary instance is one ARM lists (src/site/canary.ts). A publish profile reaches Kudu
    // alone, without ARM, and this action has no other list of the instances it can trust.
    if (auth.kind === 'publish-profile') {
      problems.push(
        'canary: a canary release needs the site\'s instances, which ARM lists; with a publish profile they cannot be found reliably. ' +
          'Sign in with Entra ID (client-id, tenant-id, subscription-id) to use canary, or set canary: false.',
      );
    }
    if (!cfg.verify) problems.push('canary: a canary release is watched with the health gate; it needs verify: true.');
  }
  if (problems.length > 0) throw new InputError(problems.map(renamed.asWritten));
  return cfg;
}
