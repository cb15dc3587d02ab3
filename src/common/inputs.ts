// The inputs stage: raw action inputs in, one typed and validated Config out. Every problem is
// collected and reported at once, each naming its input, so a user fixes the workflow in one go.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors.ts';

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
  /** Restore and save Go's module and build caches (src/build/gocache.ts). */
  cache: boolean;
  /** Globs of the files hashed into the cache key, relative to the working directory; empty: go.sum, go.work.sum. */
  cacheDependencyPath: string[];

  keep: number;
  bootstrap: boolean;
  verify: boolean;
  verifyTimeoutSeconds: number;
  autoRollback: boolean;
  timeoutSeconds: number;
  rollback: boolean;
  dryRun: boolean;
}

/** Reads one raw input by name, as `core.getInput` does (trimmed, '' when absent). */
export type InputReader = (name: string) => string;

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

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/**
 * Turns raw inputs and the runner's environment into a Config, or throws an InputError listing
 * every problem. `cwd` is the folder relative inputs are resolved from (the workspace).
 */
export function parseInputs(input: InputReader, env: NodeJS.ProcessEnv, cwd: string): Config {
  const problems: string[] = [];
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

  const seconds = (name: string, fallback: number): number => {
    const raw = get(name);
    if (raw === '') return fallback;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || !(n > 0)) {
      problems.push(`${name}: "${raw}" is not a positive number of seconds.`);
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

  // --- the site -------------------------------------------------------------------------------
  const appName = get('app-name');
  if (appName === '') {
    problems.push('app-name: required; give the name of the App Service site.');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$|^[A-Za-z0-9]$/.test(appName)) {
    problems.push(`app-name: "${appName}" is not a valid App Service name (letters, digits and inner hyphens, at most 60).`);
  }
  const slotName = get('slot-name') || 'production';
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(slotName)) {
    problems.push(`slot-name: "${slotName}" is not a valid slot name (letters, digits and hyphens).`);
  }
  const swapSlot = get('swap-slot');
  if (swapSlot !== '' && swapSlot.toLowerCase() === slotName.toLowerCase()) {
    problems.push(`swap-slot: "${swapSlot}" is the slot being deployed to; name the slot to swap into (usually production).`);
  } else if (swapSlot !== '' && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(swapSlot)) {
    problems.push(`swap-slot: "${swapSlot}" is not a valid slot name (letters, digits and hyphens).`);
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
  if (!wdOk) {
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

  const commitRaw = get('commit') || (env.GITHUB_SHA ?? '').trim();
  let commit = commitRaw.toLowerCase();
  if (commitRaw === '') {
    problems.push('commit: not given and GITHUB_SHA is not set; pass the commit SHA the binary is built from.');
  } else if (!/^[0-9a-f]{10,64}$/.test(commit)) {
    problems.push(`commit: "${commitRaw}" must be at least 10 hexadecimal digits of a commit SHA.`);
    commit = '';
  }
  const isTag = env.GITHUB_REF_TYPE === 'tag' && (env.GITHUB_REF_NAME ?? '') !== '';
  const versionLabel = isTag ? (env.GITHUB_REF_NAME as string) : commit;

  const splitWords = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);

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
    package: get('package') || '.',
    buildTags: splitWords(get('build-tags')),
    ldflags: get('ldflags'),
    buildFlags: get('build-flags').split(/\s+/).filter(Boolean),
    goos,
    goarch,
    artifactPrefix: get('artifact-prefix') || appName,
    commit,
    versionLabel,
    include: input('include')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
    cache: bool('cache', true),
    cacheDependencyPath: input('cache-dependency-path')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
    keep: count('keep', 3, 0),
    bootstrap: bool('bootstrap', true),
    verify: bool('verify', true),
    verifyTimeoutSeconds: seconds('verify-timeout', 120),
    autoRollback: bool('auto-rollback', true),
    timeoutSeconds: seconds('timeout', 600),
    rollback: bool('rollback', false),
    dryRun: bool('dry-run', false),
  };

  if (problems.length > 0) throw new InputError(problems);
  return cfg;
}
