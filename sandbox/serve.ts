// Runs the sandbox as a long-lived process for a workflow that uses the action with `uses: ./`:
// a local App Service (Kudu + IIS emulators) and the Go download site, on the sandbox's internet
// (internet.ts) under their real names. Writes what the workflow needs as NAME=value lines
// (GITHUB_ENV format) and stays up until SIGINT/SIGTERM, then stops everything it started.
//
//   node_modules/.bin/node sandbox/serve.ts --github-env "$GITHUB_ENV"
//
// The proxy and CA are written as SANDBOX_PROXY and SANDBOX_CA rather than HTTPS_PROXY and
// NODE_EXTRA_CA_CERTS, so that only the steps that ask for them (the deploy step's `env:`) go
// through the sandbox; the runner's own post-job steps keep reaching GitHub.

import * as fs from 'node:fs';
import { toSemver } from './gomirror.ts';
import { startAppService } from './appservice.ts';

function argValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const envFile = argValue('--github-env');
const siteName = argValue('--site') ?? 'dogfood-site';

const site = await startAppService({ siteName });

const lines = [
  `SANDBOX_APP_NAME=${site.siteName}`,
  `SANDBOX_APP_URL=${site.appUrl}`,
  `SANDBOX_LOCAL_APP_URL=${site.localAppUrl}`,
  `SANDBOX_KUDU_URL=${site.kuduUrl}`,
  `SANDBOX_HOME=${site.home}`,
  `SANDBOX_GO_VERSION=${toSemver(site.goMirror!.version)}`,
  `SANDBOX_PROXY=${site.internet.proxyUrl}`,
  `SANDBOX_CA=${site.internet.caFile}`,
  `SANDBOX_PUBLISH_PROFILE<<SANDBOX_PROFILE_END`,
  site.publishProfile,
  'SANDBOX_PROFILE_END',
  'SANDBOX_READY=1',
];
const text = `${lines.join('\n')}\n`;
if (envFile !== undefined) fs.appendFileSync(envFile, text);
else process.stdout.write(text);
process.stderr.write(`sandbox up: ${site.appUrl} and ${site.kuduUrl} through the proxy ${site.internet.proxyUrl} (CA ${site.internet.caFile})\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await site.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// Keep the event loop alive while the servers idle.
setInterval(() => undefined, 1 << 30);
