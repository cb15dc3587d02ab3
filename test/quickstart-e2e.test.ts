// The README's quick start, followed exactly as written, on the sandbox's Entra ID and ARM: the Go
// snippet of step 2 is the app's main, linked with this repository's goazure as `go get` would
// link it; the workflow of step 6 is read from the README, and its go-azure-deploy step runs with
// the `with:` inputs written there, the `${{ vars.* }}` replaced by the repository variables of
// step 5 (the sandbox's tenant, subscription and app registration, with a federated credential as
// in step 3). If the README drifts (an input renamed, a step missing, a snippet that no longer
// builds or serves), this test fails.

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { repoRoot, runAction } from '../sandbox/runner.ts';
import { startAzureSandbox, type AzureSandbox } from '../sandbox/azure.ts';
import { startAppService, identityHeaders, type AppService } from '../sandbox/appservice.ts';
import { startInternet, type Internet } from '../sandbox/internet.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { wineAvailable } from '../sandbox/wine.ts';

const TENANT = '7e7e7e7e-1111-2222-3333-444444444444';
const SUB = '5b5b5b5b-aaaa-bbbb-cccc-dddddddddddd';
const CLIENT = '0c0c0c0c-0000-0000-0000-000000000003';
const SHA = 'feed0123456789abcdef0123456789abcdef0123';
const ARM_SCOPE = 'https://management.azure.com/.default';
/** Step 5's repository variables, as the runner substitutes `${{ vars.NAME }}`. */
const VARS: Record<string, string> = { AZURE_CLIENT_ID: CLIENT, AZURE_TENANT_ID: TENANT, AZURE_SUBSCRIPTION_ID: SUB };
const skip = wineAvailable() ? false : 'wine is not installed (CI installs it)';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const quickStart = readme.slice(readme.indexOf('\n## Quick start\n'), readme.indexOf('\n## ', readme.indexOf('\n## Quick start\n') + 5));

interface Step { uses?: string; with?: Record<string, string> }
interface Workflow {
  on: { push?: { branches?: string[] } };
  permissions: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; concurrency?: { group: string; 'cancel-in-progress': boolean }; steps: Step[] }>;
}

/** The quick start's workflow (step 6) and Go snippet (step 2), as the README writes them. */
export function quickStartParts(section: string): { workflow: Workflow; goSnippet: string } {
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section);
  const go = /```go\n([\s\S]*?)```/.exec(section);
  assert.ok(yaml && go, 'the quick start has a workflow and a Go snippet');
  return { workflow: parse(yaml[1]) as Workflow, goSnippet: go[1] };
}

/** `${{ vars.NAME }}` replaced as the runner does; any other expression is not part of the quick start. */
export function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    const m = /^vars\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    assert.ok(m && m[1] in vars, `the quick start uses \${{ ${expr} }}, which its steps never create`);
    return vars[m[1]];
  });
}

let internet: Internet;
let sandbox: AzureSandbox;
let site: AppService;
let appDir: string;

before(async () => {
  if (skip !== false) return;
  const { workflow } = quickStartParts(quickStart);
  const appName = Object.values(workflow.jobs)[0].steps.find((s) => s.uses?.startsWith('go-azure-deploy/'))?.with?.['app-name'] ?? '';
  internet = await startInternet();
  // Step 1's site (its resource group is found by searching the subscription) and step 3's app
  // registration with a federated credential for GitHub's tokens.
  // ARM lists the instances the site runs: one here, whose id the app sees as WEBSITE_INSTANCE_ID.
  const instances = ['9e1d2c3b4a5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'];
  sandbox = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: CLIENT, federatedAudience: 'api://AzureADTokenExchange' }],
    sites: [{ name: appName, resourceGroup: 'my-rg', instances }],
    internet,
  });
  site = await startAppService({ siteName: appName, launcher: 'wine', internet, instances, acceptBearer: (t) => sandbox.acceptsToken(t, ARM_SCOPE) });
  seedToolCache(site.toolCache);
});

after(async () => {
  if (skip !== false) return;
  await site.close();
  await sandbox.close();
  await internet.close();
  if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
});

test('the quick start\'s workflow is complete: push to main, OIDC permissions, a concurrency group, checkout then deploy', () => {
  const { workflow } = quickStartParts(quickStart);
  assert.deepEqual(workflow.on.push?.branches, ['main'], 'its federated credential (step 3) is for refs/heads/main');
  assert.equal(workflow.permissions['id-token'], 'write');
  assert.match(quickStart, /"subject": "repo:OWNER\/REPO:ref:refs\/heads\/main"/);
  assert.ok(quickStart.indexOf('az ad app create') < quickStart.indexOf('az role assignment create'), 'the app registration comes before its role');
  for (const name of Object.keys(VARS)) assert.ok(quickStart.includes(`\`${name}\``), `step 5 names the repository variable ${name}`);
  const [job] = Object.values(workflow.jobs);
  assert.equal(job['runs-on'], 'ubuntu-latest');
  assert.equal(job.concurrency?.['cancel-in-progress'], false);
  assert.deepEqual(job.steps.map((s) => s.uses), ['actions/checkout@v5', 'go-azure-deploy/go-azure-deploy@v1']);
});

test('the quick start, followed as written, gives a verified first deploy', { timeout: 300_000, skip }, async () => {
  const { workflow, goSnippet } = quickStartParts(quickStart);
  const step = Object.values(workflow.jobs)[0].steps.find((s) => s.uses === 'go-azure-deploy/go-azure-deploy@v1');
  assert.ok(step?.with);
  const inputs = Object.fromEntries(Object.entries(step.with).map(([k, v]) => [k, substitute(String(v), VARS)]));

  // The user's app (step 2): a handler on `/`, served by the README's snippet; goazure linked as
  // `go get` does, from this repository's copy (no network). Its go.mod names the Go it needs.
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quickstart-app-'));
  const goVersion = machineGoVersion().replace(/^go/, '');
  fs.writeFileSync(
    path.join(appDir, 'go.mod'),
    `module example.com/myapp\n\ngo ${goVersion}\n\nrequire github.com/go-azure-deploy/go-azure-deploy/goazure v1.0.0\n\n` +
      `replace github.com/go-azure-deploy/go-azure-deploy/goazure => ${path.join(repoRoot, 'goazure')}\n`,
  );
  const body = goSnippet.trimEnd().split('\n').map((l) => `\t${l}`).join('\n');
  fs.writeFileSync(
    path.join(appDir, 'main.go'),
    `package main\n\nimport (\n\t"context"\n\t"errors"\n\t"log"\n\t"net/http"\n\t"time"\n\n\t"github.com/go-azure-deploy/go-azure-deploy/goazure"\n)\n\n` +
      `var commit string\n\nfunc main() {\n\tmux := http.NewServeMux()\n\tmux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(commit)) })\n${body}\n}\n`,
  );

  // actions/checkout@v5 leaves the repository in the workspace; the action's step runs there.
  const run = await runAction({
    inputs,
    toolCache: site.toolCache,
    cwd: appDir,
    env: { ...site.env, ...sandbox.runnerEnv, GITHUB_SHA: SHA, GITHUB_REF: 'refs/heads/main' },
    timeoutMs: 240_000,
  });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const name = `${inputs['app-name']}-${SHA.slice(0, 10)}.exe`;
  assert.equal(run.outputs['artifact-name'], name);
  // Step 7: what the first deploy writes.
  for (const file of ['web.config', 'go-azure.bat', '_deploys.json', path.join('_target', name)]) {
    assert.ok(fs.existsSync(path.join(site.wwwroot, file)), `the first deploy wrote ${file}`);
  }
  assert.equal(fs.readFileSync(path.join(site.wwwroot, '_artifact.txt'), 'utf8'), `_target\\${name}\r\n`);
  // Signed in with GitHub OIDC, as step 3 set up; the app serves through goazure, so no warning.
  assert.equal(sandbox.grants.find((g) => g.clientId === CLIENT)?.method, 'assertion');
  assert.doesNotMatch(run.stdout, /carry no X-Goazure-Artifact header/);
  assert.match(run.stdout, new RegExp(`${name.replace(/\./g, '\\.')} is healthy`));
  const answer = await fetch(site.localAppUrl, { headers: identityHeaders(site) });
  assert.equal((await answer.text()).trim(), SHA);
  // goazure names the binary to the deploy's identity key only.
  assert.equal(answer.headers.get('x-goazure-artifact'), name);
  assert.deepEqual(internet.refused, []);
});

test('the substitution refuses an expression the quick start does not set up', () => {
  assert.equal(substitute('${{ vars.AZURE_CLIENT_ID }}', VARS), CLIENT);
  assert.throws(() => substitute('${{ secrets.AZURE_CLIENT_SECRET }}', VARS), /never create/);
});
