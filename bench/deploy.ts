// Benchmark of the deploy stages (read, upload, bootstrap, switch, prune) against the Kudu emulator,
// in one run:
//   1. bytes the emulator received per deploy ÷ the binary's size (goal ≤ 0.5);
//   2. the deploy stages' wall time ÷ a bare `curl` PUT of the same zip to the same emulator
//      (goal ≤ 1.3).
// Each round redeploys onto a site already running an older build, as most deploys do.
//
// Usage: node_modules/.bin/node bench/deploy.ts [rounds]

import { spawn } from 'node:child_process';
import { startKudu } from '../sandbox/kudu.ts';
import { buildArtifact, captureStdout, clientFor, commitOf, deployStages, makeApp } from '../sandbox/fixture.ts';
import { recordFigure } from './results.ts';

const rounds = Number(process.argv[2] ?? 7);
const never = new AbortController().signal;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall time of a curl PUT (process start included) and curl's own time_total, in ms. */
function curlPut(url: string, user: string, password: string, file: string): Promise<{ wall: number; own: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('curl', ['-sS', '-X', 'PUT', '-H', 'Expect:', '-H', 'Content-Type: application/zip', '--data-binary', `@${file}`, '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-u', `${user}:${password}`, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let code = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (code += d));
    child.on('close', (exit) => {
      const wall = performance.now() - started;
      const [status, total] = code.trim().split(' ');
      if (exit !== 0 || status !== '200') reject(new Error(`curl exited ${exit} with HTTP ${status}`));
      else resolve({ wall, own: Number(total) * 1000 });
    });
  });
}

const app = makeApp();
console.log('Building two windows/amd64 binaries of a small net/http app…');
const old = await buildArtifact(app, commitOf(0xb0));
const next = await buildArtifact(app, commitOf(0xb1));
console.log(`binary ${next.pkg.binarySize} bytes, zip ${next.pkg.zipSize} bytes`);

const stageMs: number[] = [];
const curlMs: number[] = [];
const curlOwnMs: number[] = [];
const byteRatios: number[] = [];
const requestCounts: number[] = [];
for (let i = 0; i < rounds; i++) {
  const kudu = await startKudu({ siteName: 'go-sandbox' });
  try {
    const client = clientFor(kudu, never);
    await captureStdout(() => deployStages(client, old, never));
    kudu.lock(`site/wwwroot/_target/${old.name}`);
    kudu.resetCounters();

    const measureStages = async (): Promise<void> => {
      const started = performance.now();
      const { error } = await captureStdout(() => deployStages(client, next, never));
      if (error !== undefined) throw error;
      stageMs.push(performance.now() - started);
      byteRatios.push(kudu.bytesReceived / next.pkg.binarySize);
      requestCounts.push(kudu.requests.length);
    };
    const measureCurl = async (): Promise<void> => {
      const t = await curlPut(`${kudu.url}/api/zip/site/wwwroot/_curl${i}/`, kudu.userName, kudu.password, next.pkg.zipPath);
      curlMs.push(t.wall);
      curlOwnMs.push(t.own);
    };
    // Alternate the order so neither side always runs on a warmer emulator.
    if (i % 2 === 0) {
      await measureStages();
      await measureCurl();
    } else {
      await measureCurl();
      await measureStages();
    }
  } finally {
    await kudu.close();
  }
}

const bytesRatio = median(byteRatios);
const timeRatio = median(stageMs) / median(curlMs);
console.log(`rounds: ${rounds}; requests per deploy: ${median(requestCounts)}`);
console.log(
  `deploy stages: median ${median(stageMs).toFixed(1)} ms; bare curl PUT: median ${median(curlMs).toFixed(1)} ms ` +
    `(curl's own time_total, without starting the process: ${median(curlOwnMs).toFixed(1)} ms)`,
);
console.log(`bytes received ÷ binary size: ${bytesRatio.toFixed(3)} (goal ≤ 0.5) ${bytesRatio <= 0.5 ? 'met' : 'NOT met'}`);
console.log(`deploy stages ÷ curl PUT: ${timeRatio.toFixed(2)} (goal ≤ 1.3) ${timeRatio <= 1.3 ? 'met' : 'NOT met'}`);
console.log(`deploy stages ÷ curl's own time_total: ${(median(stageMs) / median(curlOwnMs)).toFixed(2)}`);
recordFigure({ bench: 'upload', figure: 'bytes received ÷ binary size', value: bytesRatio, unit: 'x', goal: '≤ 0.5', met: bytesRatio <= 0.5 });
recordFigure({ bench: 'upload', figure: 'deploy stages ÷ curl PUT of the zip', value: timeRatio, unit: 'x', goal: '≤ 1.3', met: timeRatio <= 1.3 });
