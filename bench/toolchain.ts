// Benchmark of the toolchain stage against the plain way of doing the same job, in one run:
//   (a) cold install (listing, download + sha256, extract into the tool cache, `go version`)
//       ÷ the baseline `curl -o` + `sha256sum` + `tar -xzf` of the same archive from the same mirror;
//   (b) the stage on a cache hit.
// The mirror runs in its own process so that it does not share an event loop with the stage.
// Rounds alternate baseline and stage, and medians are compared, so machine load hits both alike.
// Run: node_modules/.bin/node bench/toolchain.ts [rounds]   (goal: (a) ≤ 1.2, (b) < 0.3 s)

import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGoMirror } from '../sandbox/gomirror.ts';
import { recordFigure } from './results.ts';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--serve') {
  const mirror = await startGoMirror();
  process.stdout.write(`${JSON.stringify({ baseUrl: mirror.baseUrl, archiveName: mirror.archiveName, sha256: mirror.sha256, version: mirror.version })}\n`);
  process.on('SIGTERM', () => void mirror.close().then(() => process.exit(0)));
} else {
  await bench(Number(process.argv[2] ?? 3));
}

interface MirrorInfo {
  baseUrl: string;
  archiveName: string;
  sha256: string;
  version: string;
}

async function bench(rounds: number): Promise<void> {
  const server = spawn(process.execPath, [self, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const info = await new Promise<MirrorInfo>((resolve, reject) => {
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as MirrorInfo);
      });
      server.on('exit', (code) => reject(new Error(`mirror exited (${code})`)));
    });
    const { setupGo } = await import('../src/toolchain/install.ts');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-toolchain-'));
    const savedEnv = { ...process.env };
    const quiet = silenceStdout();
    const baseline: number[] = [];
    const cold: number[] = [];
    const hit: number[] = [];
    try {
      for (let i = 0; i < rounds; i++) {
        // Baseline: what a hand-written workflow step would do.
        const dir = path.join(root, `baseline-${i}`);
        fs.mkdirSync(dir);
        const script =
          `set -e; cd ${dir}; curl -sSf -o ${info.archiveName} ${info.baseUrl}/${info.archiveName}; ` +
          `echo "${info.sha256}  ${info.archiveName}" | sha256sum -c --quiet -; mkdir out; tar -xzf ${info.archiveName} -C out`;
        let t = performance.now();
        execFileSync('bash', ['-c', script], { stdio: 'inherit' });
        baseline.push(performance.now() - t);
        fs.rmSync(dir, { recursive: true, force: true });

        // The stage, cold: a fresh tool cache.
        const runner = path.join(root, `runner-${i}`);
        fs.mkdirSync(path.join(runner, 'temp'), { recursive: true });
        Object.assign(process.env, { RUNNER_TOOL_CACHE: path.join(runner, 'cache'), RUNNER_TEMP: path.join(runner, 'temp') });
        const req = { goVersion: info.version.replace(/^go/, ''), goVersionFile: path.join(runner, 'go.mod'), goVersionFileExplicit: false, downloadBaseUrl: info.baseUrl, checkLatest: false };
        t = performance.now();
        const go = await setupGo(req, new AbortController().signal);
        cold.push(performance.now() - t);
        if (go.cacheHit || go.version !== info.version) throw new Error(`unexpected result ${JSON.stringify(go)}`);

        // The stage again on the same cache: a hit.
        for (let j = 0; j < 3; j++) {
          t = performance.now();
          const again = await setupGo(req, new AbortController().signal);
          hit.push(performance.now() - t);
          if (!again.cacheHit) throw new Error('expected a cache hit');
        }
        Object.assign(process.env, savedEnv);
        fs.rmSync(runner, { recursive: true, force: true });
      }
    } finally {
      quiet.restore();
      for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
      Object.assign(process.env, savedEnv);
      fs.rmSync(root, { recursive: true, force: true });
    }

    const b = median(baseline);
    const c = median(cold);
    const h = median(hit);
    const rows: Array<[string, string, string]> = [
      ['baseline: curl + sha256sum + tar -xzf', sec(b), baseline.map(sec).join(' ')],
      ['stage, cold install', sec(c), cold.map(sec).join(' ')],
      ['stage, cache hit', sec(h), hit.map(sec).join(' ')],
    ];
    console.log(`Go toolchain stage, ${info.archiveName} (${(fs.statSync(path.join(path.dirname(self), '..', '.tmp', 'gomirror', info.archiveName.replace(/\.tar\.gz$/, ''), info.archiveName)).size / 1048576).toFixed(1)} MiB), ${rounds} rounds, ${os.cpus().length} CPUs\n`);
    console.log('| measure | median | runs |\n| --- | --- | --- |');
    for (const [name, m, runs] of rows) console.log(`| ${name} | ${m} | ${runs} |`);
    console.log(`\n(a) cold install ÷ baseline = ${(c / b).toFixed(2)}  (goal ≤ 1.2)  ${c / b <= 1.2 ? 'met' : 'NOT met'}`);
    console.log(`(b) cache hit = ${sec(h)}  (goal < 0.3 s)  ${h < 300 ? 'met' : 'NOT met'}`);
    recordFigure({ bench: 'toolchain', figure: 'cold install ÷ curl + sha256sum + tar', value: c / b, unit: 'x', goal: '≤ 1.2', met: c / b <= 1.2 });
    recordFigure({ bench: 'toolchain', figure: 'cache hit', value: h / 1000, unit: 's', goal: '< 0.3 s', met: h < 300 });
  } finally {
    server.kill('SIGTERM');
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function sec(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** The stage logs through @actions/core on stdout; keep the table readable. */
function silenceStdout(): { restore(): void } {
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string') return true;
    return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  return { restore: () => (process.stdout.write = write) };
}
