// The password never appears in any log line: the deploy stages run in a child process (as the
// action runs), through retries, failures and debug output, and every line is checked.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { buildArtifact, commitOf, makeApp } from '../sandbox/fixture.ts';
import { runProcess } from '../sandbox/process.ts';

let kudu: KuduEmulator | undefined;
after(() => kudu?.close());

test('the password and the Authorization value never appear in stdout or stderr', { timeout: 300_000 }, async () => {
  kudu = await startKudu({ siteName: 'go-sandbox' });
  const art = await buildArtifact(makeApp(), commitOf(0x20));
  // Retries, a cut upload, then permanent 403, 401 and 500 answers: every message path is taken.
  kudu.fault({ route: '/api/vfs/site/wwwroot/_target/', status: 503, retryAfter: '0' });
  kudu.fault({ route: '/api/zip/', resetAfterRequestBytes: 1000 });
  kudu.fault({ route: '/api/processes', status: 403 });
  kudu.fault({ route: '/api/vfs/site/wwwroot/unauthorized/', status: 401 });
  kudu.fault({ route: '/api/vfs/site/wwwroot/failing.txt', status: 500, times: 3 });

  const { code, output: out } = await runProcess(process.execPath, [fileURLToPath(new URL('./deploy.child.ts', import.meta.url))], {
    env: {
      ...process.env,
      GAD_TEST_PROFILE: kudu.publishProfileXml(),
      GAD_TEST_SITE: kudu.siteName,
      GAD_TEST_KUDU_URL: kudu.url,
      GAD_TEST_ARTIFACT: JSON.stringify(art),
      RUNNER_DEBUG: '1',
      GITHUB_ACTIONS: 'true',
    },
    timeoutMs: 120_000,
  });

  // The run went to its end, through the paths that write messages: the steps that met a fault
  // (and the rollback, which finds no older artifact) failed, the others did not.
  assert.equal(code, 0, out);
  assert.match(out, /failed steps: \["rollback","forbidden","unauthorized","failing"\]/);
  assert.match(out, /deploy: \{"previous":""/);
  assert.match(out, /dry run: \[/);
  assert.match(out, /retrying/);
  assert.match(out, /::error::.*403/);
  assert.match(out, /::error::.*401/);
  assert.match(out, /::error::.*HTTP 500/);
  assert.match(out, /::debug::connection:/);

  const secrets = [kudu.password, Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')];
  const lines = out.split(/\r?\n/);
  for (const secret of secrets) {
    const leaks = lines.filter((l) => l.includes(secret) && !l.startsWith('::add-mask::'));
    assert.deepEqual(leaks, [], 'a secret was written outside an ::add-mask:: command');
  }
  // Each secret is masked before any other line: the mask commands come first.
  const firstOther = lines.findIndex((l) => !l.startsWith('::add-mask::'));
  for (const secret of secrets) {
    const at = lines.indexOf(`::add-mask::${secret}`);
    assert.ok(at >= 0 && at < firstOther, `${secret === kudu.password ? 'the password' : 'the Basic credentials'} masked at line ${at}, before line ${firstOther}: ${lines[firstOther]}`);
  }
  // No request carried the password anywhere Kudu logs (its URL), only in the Authorization header.
  assert.ok(kudu.requests.length > 0 && !JSON.stringify(kudu.requests).includes(kudu.password));
});
