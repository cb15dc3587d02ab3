import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isServing, notServingHints, siteAnswered } from '../src/site/verify.ts';

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
