// What the main step saves for the post entry (src/post.ts, savedSiteState): core.saveState writes
// it to the file GITHUB_STATE names, which nothing masks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { savedSiteState } from '../src/post.ts';
import type { Release } from '../src/site/release.ts';

test("the saved switch and canary keep the SCM URL without kudu-url's user info", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'post-state-'));
  const file = path.join(dir, 'github_state');
  fs.writeFileSync(file, '');
  const before = process.env.GITHUB_STATE;
  process.env.GITHUB_STATE = file;
  try {
    const state = savedSiteState(() => 'https://deployer:s3cret-Pa55@kudu.example.test:8443');
    const release = { entry: { id: 'e1', kind: 'deploy', artifact: 'app-new.exe', outcome: 'uploaded' } } as unknown as Release;
    state.canary = { instance: 'i1', artifact: 'app-new.exe', previous: 'app-old.exe', release };
    state.unverified = { artifact: 'app-new.exe', previous: 'app-old.exe', release };
    const saved = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(saved, /s3cret-Pa55|deployer/);
    assert.match(saved, /"kuduUrl":"https:\/\/kudu\.example\.test:8443"/);
  } finally {
    if (before === undefined) delete process.env.GITHUB_STATE;
    else process.env.GITHUB_STATE = before;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
