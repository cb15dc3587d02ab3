// The swap benchmark: bench/swapapp (the example app's answers, with the baseline hand-overs) behind the IIS emulator, keep-alive clients at a steady
// rate, and a new artifact switched in again and again. For each hand-over strategy and workload
// it reports the requests that failed per swap (median, max) and the time from the switch until
// the new version answered, all measured in one run so the rows compare.
//
//   node_modules/.bin/node bench/swap.ts [--swaps 20] [--rate 200] [--poll-ms 250] [--cap-ms 3000]
//
// Strategies: "original" (close the listener, wait for every connection, idle keep-alives
// included, up to a hard cap), "shutdown" (plain http.Server.Shutdown), "goazure" (this project's
// hand-over) and "goazure+307" (its opt-in redirect while draining; the clients follow redirects).
// Workloads: A, every request fast; B, one request in ten takes 300 ms.
// The load goes only to 127.0.0.1, and every row is bounded in time and in requests.
// SWAP_BENCH_DEBUG=1 prints every failed request with its times relative to the last switch.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildExampleApp, installTemplates, startIisProcess, writeArtifact } from '../sandbox/iis.ts';
import { recordFigure } from './results.ts';

export type Strategy = 'original' | 'shutdown' | 'goazure' | 'goazure+307';
export type Workload = 'A' | 'B';

export interface SwapBenchOptions {
  swaps: number;
  /** Requests per second. */
  rate: number;
  /** How often the app polls _artifact.txt. */
  pollMs: number;
  /** The original scheme's hard cap on waiting for connections. */
  capMs: number;
  /** Time between a swap's new version answering and the next switch. */
  settleMs: number;
  rows: { strategy: Strategy; workload: Workload }[];
  /** Scratch folder; a fresh temporary one when absent. */
  workDir?: string;
  log?: (line: string) => void;
}

export interface SwapRow {
  strategy: Strategy;
  workload: Workload;
  /** Failed requests attributed to each swap (from its switch to the next one). */
  failed: number[];
  /** Milliseconds from each switch until a request sent after it was answered by the new version; -1 when none was. */
  switchMs: number[];
  requests: number;
}

export const slowMs = 300;
export const slowEvery = 10;

interface Outcome {
  sent: number;
  done: number;
  ok: boolean;
  body: string;
}

/** One GET through a keep-alive agent, following up to 20 redirects as browsers do. */
function request(agent: http.Agent, base: string, p: string, followRedirects: boolean, hops = 0): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(`${base}${p}`, { agent, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const location = res.headers.location;
        if (followRedirects && res.statusCode === 307 && location !== undefined && hops < 20) {
          resolve(request(agent, base, location, true, hops + 1));
        } else {
          resolve({ status: res.statusCode ?? 0, body });
        }
      });
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function runRow(
  strategy: Strategy,
  workload: Workload,
  bins: [string, string],
  opts: SwapBenchOptions,
  work: string,
): Promise<SwapRow> {
  const home = fs.mkdtempSync(path.join(work, `${strategy.replace('+', '-')}-${workload}-`));
  const wwwroot = path.join(home, 'site', 'wwwroot');
  installTemplates(wwwroot);
  fs.mkdirSync(path.join(wwwroot, '_target'));
  const deploy = (k: number): string => {
    // Every swap deploys a new file name, as every build does; the two builds alternate so the
    // answer says which one is serving.
    const name = `site-${String(k).padStart(10, '0')}.exe`;
    fs.copyFileSync(bins[k % 2]!, path.join(wwwroot, '_target', name));
    return name;
  };
  writeArtifact(wwwroot, deploy(0));

  const env: Record<string, string> = { EXAMPLE_POLL_MS: String(opts.pollMs) };
  if (strategy === 'original') Object.assign(env, { GO_AZURE_BENCH_BASELINE: 'original', EXAMPLE_DRAIN_MS: String(opts.capMs) });
  if (strategy === 'shutdown') env.GO_AZURE_BENCH_BASELINE = 'shutdown';
  if (strategy === 'goazure+307') env.EXAMPLE_REDIRECT_WHILE_DRAINING = '1';
  // The emulator runs in its own process, so the load generator never delays the proxy.
  const iis = await startIisProcess({ home, launcher: 'shell', env });
  const agent = new http.Agent({ keepAlive: true });
  const outcomes: Outcome[] = [];
  const switchesRef: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const follow = strategy === 'goazure+307';
  let sent = 0;
  let running = true;
  const started = Date.now();
  // Bounded: never more requests than the rate allows for the longest a row can take.
  const maxRequests = Math.ceil(opts.rate * (opts.swaps * (opts.capMs + opts.pollMs + opts.settleMs + 5000)) / 1000);

  const fire = (): void => {
    const n = sent++;
    const p = workload === 'B' && n % slowEvery === slowEvery - 1 ? `/slow?ms=${slowMs}` : '/';
    const t = Date.now();
    const pr = request(agent, iis.url, p, follow).then((r) => {
      outcomes.push({ sent: t, done: Date.now(), ok: r.status === 200, body: r.body });
      if (r.status !== 200 && process.env.SWAP_BENCH_DEBUG === '1') {
        const at = switchesRef[switchesRef.length - 1] ?? 0;
        console.error(`    failed ${p}: ${r.status} ${r.body.trim().slice(0, 60)} sent +${t - at} ms done +${Date.now() - at} ms`);
      }
    });
    inFlight.add(pr);
    void pr.finally(() => inFlight.delete(pr));
  };
  const load = (async () => {
    while (running && sent < maxRequests) {
      const due = Math.floor(((Date.now() - started) * opts.rate) / 1000);
      while (sent < due && sent < maxRequests) fire();
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  const versionOf = (k: number): string => (k % 2 === 0 ? 'even ' : 'odd ');
  const switches: number[] = [];
  const switchMs: number[] = [];
  try {
    // Warm up: the first process started and answering.
    const warm = Date.now();
    while (!outcomes.some((o) => o.ok && o.body.startsWith(versionOf(0)))) {
      if (Date.now() - warm > 15_000) throw new Error(`${strategy}/${workload}: the first version never answered`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, opts.settleMs));
    for (let k = 1; k <= opts.swaps; k++) {
      const name = deploy(k);
      const at = Date.now();
      writeArtifact(wwwroot, name);
      switches.push(at);
      switchesRef.push(at);
      const limit = at + opts.capMs + opts.pollMs + 10_000;
      let answered = -1;
      while (Date.now() < limit) {
        const o = outcomes.find((x) => x.sent >= at && x.ok && x.body.startsWith(versionOf(k)));
        if (o !== undefined) {
          answered = o.done - at;
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      switchMs.push(answered);
      opts.log?.(`  ${strategy} ${workload} swap ${k}: new version after ${answered} ms`);
      await new Promise((r) => setTimeout(r, opts.settleMs));
    }
  } finally {
    running = false;
    await load;
    await Promise.all(inFlight);
    agent.destroy();
    await iis.close();
  }
  const end = Date.now();
  const failed = switches.map((at, i) => {
    const next = switches[i + 1] ?? end;
    return outcomes.filter((o) => !o.ok && o.sent >= at && o.sent < next).length;
  });
  return { strategy, workload, failed, switchMs, requests: outcomes.length };
}

export async function runSwapBench(opts: SwapBenchOptions): Promise<SwapRow[]> {
  const work = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swap-bench-'));
  fs.mkdirSync(work, { recursive: true });
  const bins: [string, string] = await Promise.all([
    buildExampleApp({ outPath: path.join(work, 'bin', 'even'), version: 'even', commit: '0000000000', appDir: 'bench/swapapp' }),
    buildExampleApp({ outPath: path.join(work, 'bin', 'odd'), version: 'odd', commit: '1111111111', appDir: 'bench/swapapp' }),
  ]);
  const rows: SwapRow[] = [];
  try {
    for (const r of opts.rows) {
      opts.log?.(`${r.strategy} / workload ${r.workload}: ${opts.swaps} swaps`);
      rows.push(await runRow(r.strategy, r.workload, bins, opts, work));
    }
  } finally {
    if (opts.workDir === undefined) fs.rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

/** The arrivals during the longest in-flight request: the floor for workload B without redirects. */
export const floorB = (rate: number): number => Math.round((rate * slowMs) / 1000);

export function formatTable(rows: SwapRow[], opts: Pick<SwapBenchOptions, 'rate' | 'pollMs' | 'capMs' | 'swaps'>): string {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const plain = new Map(rows.filter((r) => r.strategy === 'shutdown').map((r) => [r.workload, mean(r.failed)]));
  const lines = [
    `${opts.swaps} swaps per row, ${opts.rate} req/s over keep-alive connections, _artifact.txt polled every ${opts.pollMs} ms, original scheme capped at ${opts.capMs} ms.`,
    `Workload A: all requests fast. Workload B: one in ${slowEvery} takes ${slowMs} ms (floor without redirects ≈ ${floorB(opts.rate)} failed per swap).`,
    '',
    '| strategy | workload | failed per swap, median | mean | max | mean vs plain Shutdown | switch → new version, median ms | max ms | swaps that never switched |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const switched = r.switchMs.filter((x) => x >= 0);
    const base = plain.get(r.workload);
    const ratio = base === undefined || base === 0 ? '–' : (mean(r.failed) / base).toFixed(2);
    lines.push(
      `| ${r.strategy} | ${r.workload} | ${median(r.failed)} | ${mean(r.failed).toFixed(1)} | ${Math.max(...r.failed)} | ${ratio} | ${switched.length ? Math.round(median(switched)) : '–'} | ${switched.length ? Math.max(...switched) : '–'} | ${r.switchMs.length - switched.length} |`,
    );
  }
  return lines.join('\n');
}

export const allRows: { strategy: Strategy; workload: Workload }[] = [
  { strategy: 'original', workload: 'A' },
  { strategy: 'shutdown', workload: 'A' },
  { strategy: 'goazure', workload: 'A' },
  { strategy: 'original', workload: 'B' },
  { strategy: 'shutdown', workload: 'B' },
  { strategy: 'goazure', workload: 'B' },
  { strategy: 'goazure+307', workload: 'B' },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const opts: SwapBenchOptions = {
    swaps: arg('swaps', 20),
    rate: arg('rate', 200),
    pollMs: arg('poll-ms', 250),
    capMs: arg('cap-ms', 3000),
    settleMs: arg('settle-ms', 500),
    rows: allRows,
    log: (l) => console.error(l),
  };
  const rows = await runSwapBench(opts);
  console.log(formatTable(rows, opts));
  for (const r of rows) {
    const goal =
      r.strategy === 'goazure' && r.workload === 'A' ? { goal: 'median 0, max ≤ 2', met: median(r.failed) === 0 && Math.max(...r.failed) <= 2 }
      : r.strategy === 'goazure' && r.workload === 'B' ? { goal: `≤ ${Math.round(floorB(opts.rate) * 1.1)}`, met: median(r.failed) <= floorB(opts.rate) * 1.1 }
      : r.strategy === 'goazure+307' ? { goal: '≈ 0', met: median(r.failed) === 0 }
      : { goal: '' };
    recordFigure({ bench: 'swap', figure: `${r.strategy}, workload ${r.workload}: failed per swap (median; max ${Math.max(...r.failed)})`, value: median(r.failed), unit: 'failed', ...goal });
    const switched = r.switchMs.filter((x) => x >= 0);
    if (r.strategy.startsWith('goazure') && switched.length > 0) {
      const ms = median(switched);
      recordFigure({ bench: 'swap', figure: `${r.strategy}, workload ${r.workload}: switch → new version (median)`, value: ms / 1000, unit: 's', goal: r.workload === 'A' ? '< 1 s' : '', met: r.workload === 'A' ? ms < 1000 : undefined });
    }
  }
}
