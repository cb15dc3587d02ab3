import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { BUILD_ONLY_INPUTS, DEPLOY_ONLY_INPUTS, RENAMED_INPUTS, parseInputs, type Config } from '../src/common/inputs.ts';
import { repoRoot } from '../sandbox/runner.ts';
import { InputError } from '../src/common/errors.ts';

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-inputs-'));
fs.mkdirSync(path.join(workspace, 'app'));
const SHA = '0123456789abcdef0123456789abcdef01234567';

function parse(inputs: Record<string, string>, env: Record<string, string> = { GITHUB_SHA: SHA }): Config {
  return parseInputs((name) => inputs[name] ?? '', env, workspace);
}

/** The problems parseInputs reports for these inputs (fails the test if it accepts them). */
function problems(inputs: Record<string, string>, env?: Record<string, string>): string[] {
  try {
    parse(inputs, env);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail('the inputs were accepted');
}

test('defaults: only app-name given', () => {
  const cfg = parse({ 'app-name': 'my-site' });
  assert.equal(cfg.appName, 'my-site');
  assert.equal(cfg.slotName, 'production');
  assert.deepEqual(cfg.auth, { kind: 'azure-cli' });
  assert.equal(cfg.environment, 'AzureCloud');
  assert.equal(cfg.goDownloadBaseUrl, 'https://go.dev/dl');
  assert.equal(cfg.goVersionFile, path.join(workspace, 'go.mod'));
  assert.equal(cfg.goVersionFileExplicit, false);
  assert.equal(cfg.workingDirectory, workspace);
  assert.equal(cfg.package, '.');
  assert.equal(cfg.goos, 'windows');
  assert.equal(cfg.goarch, 'amd64');
  assert.equal(cfg.artifactPrefix, 'my-site');
  assert.equal(cfg.commit, SHA);
  assert.equal(cfg.versionLabel, SHA);
  assert.equal(cfg.keep, 3);
  assert.equal(cfg.bootstrap, true);
  assert.equal(cfg.verify, true);
  assert.equal(cfg.verifyTimeoutSeconds, 120);
  assert.equal(cfg.autoRollback, true);
  assert.equal(cfg.timeoutSeconds, 600);
  assert.equal(cfg.rollback, false);
  assert.equal(cfg.dryRun, false);
  assert.equal(cfg.checkLatest, false);
  assert.equal(cfg.swapSlot, '');
  assert.deepEqual(cfg.include, []);
});

test('every input parsed on the happy path', () => {
  const cfg = parse(
    {
      'app-name': 'Shop',
      'slot-name': 'staging',
      'swap-target-slot': 'production',
      'client-id': 'cid',
      'tenant-id': 'tid',
      'client-secret': 's3cret',
      'subscription-id': 'sub',
      'resource-group-name': 'rg',
      environment: 'azurechinacloud',
      'kudu-url': 'http://127.0.0.1:8123/',
      'go-version': '1.23',
      'go-version-file': '.go-version',
      'go-download-base-url': 'http://127.0.0.1:9000/dl/',
      'check-latest': 'TRUE',
      'working-directory': 'app',
      package: './cmd/web',
      'build-tags': 'netgo, prod',
      ldflags: '-X main.flavour=blue',
      'build-flags': '-v  -mod=vendor',
      goos: 'Windows',
      goarch: 'arm64',
      'artifact-prefix': 'web',
      commit: 'ABCDEF0123',
      include: 'static/**\n\n!static/*.map\n# a comment\ntemplates/*.html',
      keep: '0',
      bootstrap: 'false',
      verify: 'False',
      'verify-timeout-seconds': '30',
      'auto-rollback': 'no',
      timeout: '90.5',
      rollback: 'false',
      'dry-run': 'true',
    },
    { GITHUB_SHA: SHA, GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v1.2.3' },
  );
  assert.deepEqual(cfg.auth, { kind: 'entra-id', clientId: 'cid', tenantId: 'tid', clientSecret: 's3cret', audience: 'api://AzureADTokenExchange' });
  assert.equal(cfg.environment, 'AzureChinaCloud');
  assert.equal(cfg.kuduUrl, 'http://127.0.0.1:8123');
  assert.equal(cfg.goDownloadBaseUrl, 'http://127.0.0.1:9000/dl');
  assert.equal(cfg.workingDirectory, path.join(workspace, 'app'));
  assert.equal(cfg.goVersionFile, path.join(workspace, 'app', '.go-version'));
  assert.equal(cfg.goVersionFileExplicit, true);
  assert.deepEqual(cfg.buildTags, ['netgo', 'prod']);
  assert.deepEqual(cfg.buildFlags, ['-v', '-mod=vendor']);
  assert.equal(cfg.goos, 'windows');
  assert.equal(cfg.goarch, 'arm64');
  assert.equal(cfg.commit, 'abcdef0123');
  assert.equal(cfg.versionLabel, 'v1.2.3');
  assert.deepEqual(cfg.include, ['static/**', '!static/*.map', 'templates/*.html']);
  assert.equal(cfg.keep, 0);
  assert.equal(cfg.checkLatest, true);
  assert.equal(cfg.bootstrap, false);
  assert.equal(cfg.verify, false);
  assert.equal(cfg.autoRollback, false);
  assert.equal(cfg.verifyTimeoutSeconds, 30);
  assert.equal(cfg.timeoutSeconds, 90.5);
  assert.equal(cfg.dryRun, true);
  assert.equal(cfg.swapSlot, 'production');
});

test('publish profile alone selects publish-profile auth', () => {
  const cfg = parse({ 'app-name': 'a1', 'publish-profile': '<publishData/>' });
  assert.deepEqual(cfg.auth, { kind: 'publish-profile', profileXml: '<publishData/>' });
});

test('client-id + tenant-id without a secret selects OIDC with the audience', () => {
  const cfg = parse({ 'app-name': 'a1', 'client-id': 'c', 'tenant-id': 't', audience: 'api://custom' });
  assert.deepEqual(cfg.auth, { kind: 'entra-id', clientId: 'c', tenantId: 't', clientSecret: '', audience: 'api://custom' });
});

test('missing app-name', () => {
  assert.match(problems({}).join('\n'), /app-name: required/);
});

test('invalid app-name and slot-name', () => {
  const p = problems({ 'app-name': 'bad_name!', 'slot-name': 'st ag' });
  assert.ok(p.some((m) => m.startsWith('app-name:')));
  assert.ok(p.some((m) => m.startsWith('slot-name:')));
});

test('unknown booleans name their input', () => {
  const p = problems({ 'app-name': 'a1', bootstrap: 'maybe', verify: 'yes please', 'dry-run': '2', 'check-latest': 'tru', 'auto-rollback': '?' });
  for (const name of ['bootstrap', 'verify', 'dry-run', 'check-latest', 'auto-rollback']) {
    assert.ok(p.some((m) => m.startsWith(`${name}:`) && m.includes('not a boolean')), `${name} in ${p.join(' | ')}`);
  }
});

test('non-numeric keep and timeouts', () => {
  const p = problems({ 'app-name': 'a1', keep: 'three', 'verify-timeout-seconds': '2m', 'timeout-seconds': '-5' });
  assert.ok(p.some((m) => m.startsWith('keep:') && m.includes('"three"')));
  assert.ok(p.some((m) => m.startsWith('verify-timeout-seconds:') && m.includes('"2m"')));
  assert.ok(p.some((m) => m.startsWith('timeout-seconds:') && m.includes('"-5"')));
  assert.ok(problems({ 'app-name': 'a1', 'timeout-seconds': '0' }).some((m) => m.startsWith('timeout-seconds:')));
  // A value given under a deprecated name is reported under the name the workflow wrote.
  assert.ok(problems({ 'app-name': 'a1', timeout: '0' }).some((m) => m.startsWith('timeout (renamed timeout-seconds): "0"')));
  assert.ok(problems({ 'app-name': 'a1', keep: '1.5' }).some((m) => m.startsWith('keep:')));
});

test('a bad artifact-prefix is reported with the other input problems, before anything is built', () => {
  const p = problems({ 'app-name': 'a1', 'artifact-prefix': '***', keep: 'three' });
  assert.ok(p.some((m) => m.startsWith('keep:')), p.join(' | '));
  assert.ok(p.some((m) => m.startsWith('artifact-prefix: "***" has no letters or digits left')), p.join(' | '));
  // From app-name too, which Windows may reserve though App Service takes it.
  assert.deepEqual(problems({ 'app-name': 'con', 'verify-timeout-seconds': '0' }).map((m) => m.split(':')[0]).sort(), ['app-name', 'verify-timeout-seconds']);
  // A rollback and a package's deploy build nothing, so the prefix is not theirs to check.
  assert.equal(parse({ 'app-name': 'con', rollback: 'true' }).artifactPrefix, 'con');
  // An app-name that is wrong is reported once, as app-name's problem.
  assert.equal(problems({ 'app-name': '-' }).filter((m) => m.startsWith('app-name:')).length, 1);
});

test('watch-seconds reads seconds as the time limits do, with 0 for off and at most an hour', () => {
  assert.equal(parse({ 'app-name': 'a1' }).watchSeconds, 0);
  assert.equal(parse({ 'app-name': 'a1', 'watch-seconds': '0' }).watchSeconds, 0);
  assert.equal(parse({ 'app-name': 'a1', 'watch-seconds': '12.5' }).watchSeconds, 12.5);
  assert.equal(parse({ 'app-name': 'a1', 'watch-seconds': '3600' }).watchSeconds, 3600);
  for (const raw of ['3601', '-1', '1m', '1e2']) {
    assert.deepEqual(problems({ 'app-name': 'a1', 'watch-seconds': raw }), [`watch-seconds: "${raw}" is not a number of seconds from 0 (off) to 3600.`], raw);
  }
  assert.deepEqual(problems({ 'app-name': 'a1', 'verify-timeout-seconds': '0' }), ['verify-timeout-seconds: "0" is not a positive number of seconds.']);
});

test('goos/goarch pairs Go cannot build', () => {
  const p1 = problems({ 'app-name': 'a1', goos: 'windows', goarch: 'mips' });
  assert.match(p1.join('\n'), /goos\/goarch: Go cannot build windows\/mips; for windows use one of 386, amd64, arm64/);
  const p2 = problems({ 'app-name': 'a1', goos: 'beos' });
  assert.match(p2.join('\n'), /goos: "beos" is not an operating system/);
});

test('include with a build for another system than windows is refused: the binary, having no .exe, would take the include folder\'s name', () => {
  const p = problems({ 'app-name': 'a1', goos: 'linux', include: 'static/**' });
  assert.match(p.join('\n'), /include: .*goos "linux" has no "\.exe".*use include with goos windows/);
  assert.deepEqual(problems({ 'app-name': 'a1', goos: 'linux', include: 'static/**', keep: 'x' }).filter((m) => m.startsWith('include:')).length, 1);
  assert.equal(parse({ 'app-name': 'a1', goos: 'linux', include: '# nothing\n' }, { GITHUB_SHA: 'a'.repeat(40) }).include.length, 0);
  assert.deepEqual(parse({ 'app-name': 'a1', include: 'static/**\n' }, { GITHUB_SHA: 'a'.repeat(40) }).include, ['static/**']);
});

test('commit with fewer than 10 hex digits, or not hex, or absent', () => {
  assert.match(problems({ 'app-name': 'a1', commit: 'abc123' }).join('\n'), /commit: "abc123" must be at least 10 hexadecimal digits/);
  assert.match(problems({ 'app-name': 'a1', commit: 'zzzzzzzzzzzz' }).join('\n'), /commit: "zzzzzzzzzzzz"/);
  assert.match(problems({ 'app-name': 'a1' }, {}).join('\n'), /commit: not given and GITHUB_SHA is not set/);
});

test('publish profile and Entra ID credentials at once: says which to drop', () => {
  const p = problems({ 'app-name': 'a1', 'publish-profile': '<x/>', 'client-id': 'c', 'tenant-id': 't' });
  assert.equal(p.length, 1);
  assert.match(p[0], /^publish-profile: given together with client-id, tenant-id; that is ambiguous\. Drop publish-profile .* or drop client-id, tenant-id/);
  assert.match(problems({ 'app-name': 'a1', 'publish-profile': '<x/>', 'client-secret': 's' }).join('\n'), /publish-profile: given together with client-secret/);
});

test('client-id without tenant-id, and the reverse', () => {
  assert.match(problems({ 'app-name': 'a1', 'client-id': 'c' }).join('\n'), /tenant-id: required with client-id/);
  assert.match(problems({ 'app-name': 'a1', 'tenant-id': 't' }).join('\n'), /client-id: required with tenant-id/);
  assert.match(problems({ 'app-name': 'a1', 'client-secret': 's' }).join('\n'), /client-id: required with client-secret/);
});

test('working-directory that does not exist', () => {
  assert.match(problems({ 'app-name': 'a1', 'working-directory': 'nope/here' }).join('\n'), /working-directory: "nope\/here" does not exist/);
});

test('unknown environment, bad URLs, swap-target-slot equal to slot-name', () => {
  const p = problems({
    'app-name': 'a1',
    environment: 'Mars',
    'kudu-url': 'ftp://x',
    'go-download-base-url': 'not a url',
    'slot-name': 'staging',
    'swap-target-slot': 'Staging',
  });
  assert.ok(p.some((m) => m.startsWith('environment: "Mars"')));
  assert.ok(p.some((m) => m.startsWith('kudu-url: "ftp://x"')));
  assert.ok(p.some((m) => m.startsWith('go-download-base-url: "not a url"')));
  assert.ok(p.some((m) => m.startsWith('swap-target-slot: "Staging" is the slot being deployed to')));
});

test('build-flags that take over -o, -ldflags or -tags are reported with the other input problems', () => {
  const p = problems({ 'app-name': 'a1', 'build-flags': '-v -o out.exe --ldflags=-s', keep: 'many' });
  assert.ok(p.some((m) => m.startsWith('build-flags: "-o" is not allowed here; the output path is chosen by the action')), p.join('\n'));
  assert.ok(p.some((m) => m.startsWith('build-flags: "--ldflags=-s" is not allowed here; use the ldflags input')), p.join('\n'));
  assert.ok(p.some((m) => m.startsWith('keep: "many"')), p.join('\n'));
  assert.deepEqual(parse({ 'app-name': 'a1', 'build-flags': '-v -mod=vendor' }).buildFlags, ['-v', '-mod=vendor']);
});

test('every problem is reported at once', () => {
  const p = problems(
    { keep: 'x', goos: 'windows', goarch: 'sparc', bootstrap: 'nah', 'client-id': 'c', 'working-directory': 'missing' },
    {},
  );
  const names = p.map((m) => m.split(':')[0]);
  for (const name of ['app-name', 'keep', 'goos/goarch', 'bootstrap', 'tenant-id', 'working-directory', 'commit']) {
    assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
  }
  const err = (() => {
    try {
      parse({ keep: 'x' }, {});
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  assert.match(err?.message ?? '', /^Invalid inputs \(\d+ problems\):\n {2}- /);
});

test('every input of action.yml is classed as read by both, by a deploy only or by a build only, with action.yml\'s default', () => {
  const action = YAML.parse(fs.readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  // Read by a build-only run and by a deploy alike.
  const shared = new Set(['app-name', 'goos', 'goarch', 'commit', 'timeout-seconds', 'build-only', 'from-package']);
  const renamed = new Set(RENAMED_INPUTS.map((r) => r.old));
  for (const [name, spec] of Object.entries(action.inputs)) {
    if (renamed.has(name)) {
      assert.equal(spec.default, undefined, `${name}: a deprecated name has no default, or it would always count as given`);
      continue;
    }
    const classes = [shared.has(name), name in DEPLOY_ONLY_INPUTS, name in BUILD_ONLY_INPUTS].filter(Boolean).length;
    assert.equal(classes, 1, `${name} is in ${classes} of the classes`);
    const listed = DEPLOY_ONLY_INPUTS[name] ?? BUILD_ONLY_INPUTS[name];
    if (listed !== undefined) assert.equal(listed, String(spec.default ?? ''), `the default of ${name}`);
  }
  for (const name of [...Object.keys(DEPLOY_ONLY_INPUTS), ...Object.keys(BUILD_ONLY_INPUTS)]) assert.ok(name in action.inputs, `${name} is an input of action.yml`);
});

test('each input problem is reported once: a rollback that is not a boolean, with from-package', () => {
  const p = problems({ 'app-name': 'a1', rollback: 'maybe', 'from-package': 'no-such-package' });
  assert.equal(p.filter((m) => m.startsWith('rollback:')).length, 1, p.join('\n'));
  assert.equal(parse({ 'app-name': 'a1', rollback: 'a1-0123456789' }).rollback, true, 'rollback takes an artifact name');
});

test('renamed inputs: each old name is read as its new one, with a warning naming the new one', () => {
  const cases: [Record<string, string>, (c: Config) => unknown, unknown][] = [
    [{ package: './cmd/web' }, (c) => c.package, './cmd/web'],
    [{ 'slot-name': 'staging', 'swap-slot': 'production' }, (c) => c.swapSlot, 'production'],
    [{ timeout: '300' }, (c) => c.timeoutSeconds, 300],
    [{ 'verify-timeout': '30' }, (c) => c.verifyTimeoutSeconds, 30],
    [{ 'rollback-to': 'a1-0123456789.exe' }, (c) => [c.rollback, c.rollbackTo], [true, 'a1-0123456789.exe']],
    // The 1.0 way to name a version: rollback: true beside rollback-to.
    [{ rollback: 'true', 'rollback-to': '0123456' }, (c) => [c.rollback, c.rollbackTo], [true, '0123456']],
  ];
  for (const [given, pick, want] of cases) {
    const warnings: string[] = [];
    const cfg = parseInputs((n) => ({ 'app-name': 'a1', commit: SHA, ...given })[n] ?? '', {}, process.cwd(), (w) => warnings.push(w));
    assert.deepEqual(pick(cfg), want, JSON.stringify(given));
    const old = Object.keys(given).find((k) => RENAMED_INPUTS.some((r) => r.old === k));
    const renamed = RENAMED_INPUTS.find((r) => r.old === old);
    assert.ok(renamed !== undefined);
    assert.ok(warnings.some((w) => w.startsWith(`${renamed.old} is deprecated`) && w.includes(`rename it to ${renamed.new}`)), warnings.join('\n'));
  }
});

test('renamed inputs: the new names need no warning, and the runner\'s defaults for them do not clash with an old name', () => {
  const warnings: string[] = [];
  const cfg = parseInputs(
    (n) => ({ 'app-name': 'a1', commit: SHA, 'main-package': './cmd/web', 'slot-name': 'staging', 'swap-target-slot': 'production', 'timeout-seconds': '300', 'verify-timeout-seconds': '30' })[n] ?? '',
    {}, process.cwd(), (w) => warnings.push(w),
  );
  assert.deepEqual([cfg.package, cfg.swapSlot, cfg.timeoutSeconds, cfg.verifyTimeoutSeconds], ['./cmd/web', 'production', 300, 30]);
  assert.deepEqual(warnings, []);
  // action.yml's defaults arrive as if given; an old name beside them is no conflict.
  const withDefaults = parse({ 'app-name': 'a1', 'main-package': '.', package: './cmd/api', 'timeout-seconds': '600', timeout: '90', rollback: '', 'rollback-to': '0123456' });
  assert.deepEqual([withDefaults.package, withDefaults.timeoutSeconds, withDefaults.rollbackTo], ['./cmd/api', 90, '0123456']);
});

test('renamed inputs: an old and a new name given together is an error naming both', () => {
  const p = problems({ 'app-name': 'a1', package: './a', 'main-package': './b', timeout: '60', 'timeout-seconds': '90', 'verify-timeout': '10', 'verify-timeout-seconds': '20', 'slot-name': 'staging', 'swap-slot': 'production', 'swap-target-slot': 'production', 'rollback-to': '0123456', rollback: 'previous' });
  for (const r of RENAMED_INPUTS) {
    assert.ok(p.some((m) => m.startsWith(`${r.old}: given together with ${r.new}`) && m.includes(`keep ${r.new}`)), `${r.old}:\n${p.join('\n')}`);
  }
});

test('rollback takes previous, an artifact name or a commit prefix, and names what it does not understand', () => {
  assert.deepEqual([parse({ 'app-name': 'a1', rollback: 'previous' }).rollback, parse({ 'app-name': 'a1', rollback: 'previous' }).rollbackTo], [true, '']);
  assert.deepEqual([parse({ 'app-name': 'a1', rollback: '' }).rollback, parse({ 'app-name': 'a1', rollback: 'false' }).rollback], [false, false]);
  assert.equal(parse({ 'app-name': 'a1', rollback: 'shop-0123456789-abcdef.exe' }).rollbackTo, 'shop-0123456789-abcdef.exe');
  assert.equal(parse({ 'app-name': 'a1', rollback: 'ABCDEF0' }).rollbackTo, 'ABCDEF0');
  const warnings: string[] = [];
  parseInputs((n) => ({ 'app-name': 'a1', commit: SHA, rollback: 'true' })[n] ?? '', {}, process.cwd(), (w) => warnings.push(w));
  assert.ok(warnings.some((w) => w.includes('write rollback: previous')), warnings.join('\n'));
  for (const bad of ['last', '0123', 'shop.exe', '../x']) {
    assert.ok(problems({ 'app-name': 'a1', rollback: bad }).some((m) => m.startsWith(`rollback: "${bad}" is neither previous`)), bad);
  }
});

test('canary: off by default, 60 s and a 1-point margin; refused with a publish profile or without verify', () => {
  const cfg = parse({ 'app-name': 'a1' });
  assert.equal(cfg.canary, false);
  assert.equal(cfg.canarySeconds, 60);
  assert.equal(cfg.canaryMaxErrorRateIncrease, 1);
  const on = parse({ 'app-name': 'a1', 'client-id': 'c', 'tenant-id': 't', canary: 'true', 'canary-seconds': '5', 'canary-max-error-rate-increase': '2.5' });
  assert.deepEqual([on.canary, on.canarySeconds, on.canaryMaxErrorRateIncrease], [true, 5, 2.5]);
  assert.match(problems({ 'app-name': 'a1', 'publish-profile': '<x/>', canary: 'true' }).join('\n'), /^canary: a canary release needs the site's instances, which ARM lists; with a publish profile .*Sign in with Entra ID/m);
  assert.match(problems({ 'app-name': 'a1', canary: 'true', verify: 'false' }).join('\n'), /^canary: .*needs verify: true/m);
  assert.match(problems({ 'app-name': 'a1', 'canary-max-error-rate-increase': '101' }).join('\n'), /canary-max-error-rate-increase: "101" is not a number of percentage points from 0 to 100/);
  assert.match(problems({ 'app-name': 'a1', 'canary-seconds': '0' }).join('\n'), /canary-seconds: "0" is not a positive number of seconds/);
  // A publish profile without canary, and a rollback with it, are as before.
  assert.equal(parse({ 'app-name': 'a1', 'publish-profile': '<x/>', canary: 'true', rollback: 'true' }).canary, true);
});
