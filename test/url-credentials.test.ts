// Credentials in a URL input (a private Go mirror's token in go-download-base-url) are masked when
// the inputs are read and never printed: the action runs from its sources in a child process, as a
// runner runs it, through the toolchain stage's log lines, retries and final error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAction } from '../sandbox/runner.ts';
import { machineGoVersion, startGoMirror, toSemver, type GoMirror } from '../sandbox/gomirror.ts';

let mirror: GoMirror;
before(async () => {
  mirror = await startGoMirror();
});
after(async () => {
  await mirror.close();
});

test('a token in go-download-base-url appears only in its ::add-mask:: lines', { timeout: 180_000 }, async () => {
  const TOKEN = 'mirr0r-t0ken-9f3b';
  // Every archive request is cut short: the run logs resolution, download, retries and an error.
  mirror.faults = { dropAfterBytes: 1_000_000, dropTimes: Infinity };
  const base = new URL(mirror.baseUrl);
  const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-toolcache-'));
  const run = await runAction({
    toolCache,
    inputs: {
      'app-name': 'shop',
      'go-version': toSemver(machineGoVersion()),
      'go-download-base-url': `http://ci-user:${TOKEN}@${base.host}`,
      commit: '0123456789abcdef0123456789abcdef01234567',
    },
    timeoutMs: 150_000,
  });
  try {
    const out = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 1, out);
    assert.match(out, /resolves to go/);
    assert.match(out, /Downloading http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /retrying/);
    assert.match(out, /::error::Downloading http:\/\/127\.0\.0\.1:\d+\/\S+ kept failing/);
    const lines = out.split(/\r?\n/);
    assert.ok(lines.includes(`::add-mask::${TOKEN}`), 'the token is masked');
    assert.ok(lines.includes(`::add-mask::ci-user:${TOKEN}`), 'user:token is masked');
    const leaks = lines.filter((l) => l.includes(TOKEN) && !l.startsWith('::add-mask::'));
    assert.deepEqual(leaks, [], 'the token was written outside an ::add-mask:: command');
    // The mask comes before any line the toolchain stage writes.
    assert.ok(lines.indexOf(`::add-mask::${TOKEN}`) < lines.findIndex((l) => l.includes('resolves to')));
    // The mirror was asked with the credentials (they are used, just never shown).
    assert.ok(mirror.archiveRequests() >= 2);
  } finally {
    fs.rmSync(run.runnerTemp, { recursive: true, force: true });
    fs.rmSync(toolCache, { recursive: true, force: true });
  }
});
