import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { answeredBySignIn, healthPathFor, isServing, notServingHints, siteAnswered } from '../src/site/verify.ts';
import { authenticationLetsThrough } from '../src/site/preflight.ts';
import { repositoryIsPublic } from '../src/site/golive.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

test('serving means the new process is listed and the previous one is gone', () => {
  const p = (...names: string[]) => names.map((name, id) => ({ id, name }));
  assert.equal(isServing(p('w3wp', 'site-bbbbbbbbbb'), 'site-bbbbbbbbbb.exe', 'site-aaaaaaaaaa.exe'), true);
  assert.equal(isServing(p('w3wp', 'site-aaaaaaaaaa', 'site-bbbbbbbbbb'), 'site-bbbbbbbbbb.exe', 'site-aaaaaaaaaa.exe'), false);
  assert.equal(isServing(p('w3wp', 'site-aaaaaaaaaa'), 'site-bbbbbbbbbb.exe', 'site-aaaaaaaaaa.exe'), false);
  assert.equal(isServing(p('w3wp'), 'site-bbbbbbbbbb.exe', ''), false);
  assert.equal(isServing(p('SITE-BBBBBBBBBB'), 'site-bbbbbbbbbb.exe', ''), true);
  assert.equal(isServing(p('site-bbbbbbbbbb'), 'site-bbbbbbbbbb.exe', 'site-bbbbbbbbbb.exe'), true, 're-run of the same commit');
});

test('hints mention a non-windows goos first', () => {
  assert.match(notServingHints('a.exe', 'linux')[0], /goos is linux/);
  assert.doesNotMatch(notServingHints('a.exe', 'windows').join('\n'), /goos is/);
});

test('only an answer from the app counts, not the platform\'s 502/503/504 or no answer', () => {
  for (const s of [200, 204, 301, 404, 500]) assert.equal(siteAnswered(s), true, String(s));
  for (const s of [502, 503, 504, undefined]) assert.equal(siteAnswered(s), false, String(s));
});

test('an answer from App Service Authentication\'s sign-in is told from the app\'s own', () => {
  const p = (status: number, extra: { artifact?: string; location?: string; challenge?: boolean } = {}) => ({ status, artifact: '', latencyMs: 1, ...extra });
  assert.equal(answeredBySignIn(p(302, { location: 'login.microsoftonline.com' })), true);
  assert.equal(answeredBySignIn(p(302, { location: '/.auth/login/aad' })), true);
  assert.equal(answeredBySignIn(p(401, { challenge: true })), true);
  // The app's own redirect or 401 names the binary; another redirect is no sign-in.
  assert.equal(answeredBySignIn(p(302, { location: 'login.microsoftonline.com', artifact: 'site-0123456789.exe' })), false);
  assert.equal(answeredBySignIn(p(401, { challenge: true, artifact: 'site-0123456789.exe' })), false);
  assert.equal(answeredBySignIn(p(302, { location: '/home' })), false);
  assert.equal(answeredBySignIn(p(401)), false);
  assert.equal(answeredBySignIn({ artifact: '', latencyMs: 1 }), false);
  assert.match(notServingHints('site-0123456789.exe', 'windows', true)[0]!, /App Service Authentication's sign-in.*health-path.*excludedPaths/);
  assert.doesNotMatch(notServingHints('site-0123456789.exe', 'windows').join('\n'), /Authentication/);
  // An app that does not link goazure is named in the hints, first when its answers showed it.
  assert.match(notServingHints('site-0123456789.exe', 'windows').join('\n'), /must serve through goazure\.ListenAndServe .*never exits when _artifact\.txt changes/);
  assert.match(notServingHints('site-0123456789.exe', 'windows', false, true)[0]!, /^the app must serve through goazure\.ListenAndServe.*no X-Goazure-Artifact header/);
});

test('the health path: the input, else ARM\'s health check path, else /', () => {
  assert.equal(healthPathFor('/ready', '/healthz'), '/ready');
  assert.equal(healthPathFor('', '/healthz'), '/healthz');
  assert.equal(healthPathFor('', ''), '/');
  assert.equal(healthPathFor('', undefined), '/');
});

test('App Service Authentication lets a request through when off, anonymous, or for an excluded path and what lies under it', () => {
  const auth = (over: Partial<{ enabled: boolean; requireAuthentication: boolean; unauthenticatedClientAction: string; excludedPaths: string[] }> = {}) => ({
    enabled: true,
    requireAuthentication: true,
    unauthenticatedClientAction: 'RedirectToLoginPage',
    excludedPaths: [] as string[],
    ...over,
  });
  assert.equal(authenticationLetsThrough(auth({ enabled: false }), '/'), true);
  assert.equal(authenticationLetsThrough(auth({ requireAuthentication: false }), '/'), true);
  assert.equal(authenticationLetsThrough(auth({ unauthenticatedClientAction: 'AllowAnonymous' }), '/'), true);
  assert.equal(authenticationLetsThrough(auth(), '/healthz'), false);
  const some = auth({ excludedPaths: ['/healthz', '/public/', '/api/open*'] });
  assert.equal(authenticationLetsThrough(some, '/healthz'), true);
  assert.equal(authenticationLetsThrough(some, '/HealthZ?deep=1'), true);
  assert.equal(authenticationLetsThrough(some, '/healthz/live'), true);
  assert.equal(authenticationLetsThrough(some, '/healthzz'), false);
  assert.equal(authenticationLetsThrough(some, '/public/x'), true);
  assert.equal(authenticationLetsThrough(some, '/api/openapi.json'), true);
  assert.equal(authenticationLetsThrough(some, '/'), false);
});

test('a recycle (a new worker with a new copy of the app) is told from a crash (the same workers, a new pid)', async () => {
  const { processChange } = await import('../src/site/verify.ts');
  const list = (workers: number[], apps: number[]) => [...workers.map((id) => ({ id, name: 'w3wp' })), { id: 9, name: 'cmd' }, ...apps.map((id) => ({ id, name: 'site-aaaaaaaaaa' }))];
  const before = { pid: 100, workers: [1, 2] };
  assert.equal(processChange(undefined, list([1, 2], [100]), 'site-aaaaaaaaaa.exe').change, 'first');
  assert.equal(processChange(before, list([1, 2, 3], [100, 200]), 'site-aaaaaaaaaa.exe').change, 'same', 'the overlap: both copies run');
  assert.deepEqual(processChange(before, list([1, 3], [200]), 'site-aaaaaaaaaa.exe'), { change: 'recycled', now: { pid: 200, workers: [1, 3] } });
  assert.equal(processChange(before, list([1, 2], [200]), 'SITE-aaaaaaaaaa.exe').change, 'restarted');
  assert.equal(processChange(before, list([1, 2], []), 'site-aaaaaaaaaa.exe').change, 'exited');
  // The new worker has not had its first request yet: no copy runs, but it is a recycle, not a crash.
  assert.deepEqual(processChange(before, list([1, 3], []), 'site-aaaaaaaaaa.exe'), { change: 'recycled' });
});

test('the app log counts as public unless the event payload says the repository is private (fail closed)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-event-'));
  try {
    const withEvent = (payload: string): NodeJS.ProcessEnv => {
      const file = path.join(dir, `event-${Math.random().toString(36).slice(2)}.json`);
      fs.writeFileSync(file, payload);
      return { GITHUB_EVENT_PATH: file };
    };
    assert.equal(repositoryIsPublic({}), true, 'no payload');
    assert.equal(repositoryIsPublic({ GITHUB_EVENT_PATH: path.join(dir, 'missing.json') }), true, 'a payload that cannot be read');
    assert.equal(repositoryIsPublic(withEvent('not json')), true, 'a payload that is not JSON');
    assert.equal(repositoryIsPublic(withEvent('{}')), true, 'a payload without repository');
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"full_name":"o/r"}}')), true, 'a repository that does not say');
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"private":false}}')), true);
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"visibility":"public"}}')), true);
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"private":true}}')), false);
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"visibility":"internal"}}')), false);
    assert.equal(repositoryIsPublic(withEvent('{"repository":{"private":true,"visibility":"private"}}')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
