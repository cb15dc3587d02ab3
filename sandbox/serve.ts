// Runs the sandbox as a long-lived process for a workflow that uses the action with `uses: ./`:
// a Go download mirror serving the machine's Go, and a local App Service (Kudu + IIS emulators).
// Writes what the workflow needs as NAME=value lines (GITHUB_ENV format) and stays up until
// SIGINT/SIGTERM, then stops everything it started.
//
//   node_modules/.bin/node sandbox/serve.ts --github-env "$GITHUB_ENV"

import * as fs from 'node:fs';
import { startGoMirror, toSemver } from './gomirror.ts';
import { startAppService } from './appservice.ts';

function argValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const envFile = argValue('--github-env');
const siteName = argValue('--site') ?? 'dogfood-site';

const mirror = await startGoMirror();
const site = await startAppService({ siteName });

const lines = [
  `SANDBOX_APP_NAME=${site.siteName}`,
  `SANDBOX_APP_URL=${site.appUrl}`,
  `SANDBOX_KUDU_URL=${site.kuduUrl}`,
  `SANDBOX_HOME=${site.home}`,
  `SANDBOX_GO_MIRROR=${mirror.baseUrl}`,
  `SANDBOX_GO_VERSION=${toSemver(mirror.version)}`,
  `SANDBOX_PUBLISH_PROFILE<<SANDBOX_PROFILE_END`,
  site.publishProfile,
  'SANDBOX_PROFILE_END',
  'SANDBOX_READY=1',
];
const text = `${lines.join('\n')}\n`;
if (envFile !== undefined) fs.appendFileSync(envFile, text);
else process.stdout.write(text);
process.stderr.write(`sandbox up: site ${site.appUrl}, kudu ${site.kuduUrl}, Go mirror ${mirror.baseUrl}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await site.close();
  await mirror.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// Keep the event loop alive while the servers idle.
setInterval(() => undefined, 1 << 30);
