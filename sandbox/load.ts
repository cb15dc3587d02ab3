// Steady HTTP load on one URL over keep-alive connections, as a site's users put on it: a fixed
// rate, bounded in time, every answer recorded, so a deploy under load can be judged by its
// failed requests and by when the new version first answered.

import * as http from 'node:http';

export interface LoadSample {
  /** Milliseconds since the load started. */
  at: number;
  status: number;
  body: string;
}

export interface LoadResult {
  sent: number;
  ok: number;
  /** Non-2xx answers and requests with no answer at all. */
  failed: number;
  failures: { at: number; status: number; error?: string }[];
  /** Milliseconds since start at which an answer first contained each marker. */
  firstSeen(marker: string): number | undefined;
}

export interface Load {
  /** Milliseconds since the load started. */
  elapsed(): number;
  /** Stops sending, waits for the answers still due, and returns the tally. */
  stop(): Promise<LoadResult>;
}

/** Starts `rate` requests per second to `url`, for at most `maxSeconds`. */
export function startLoad(url: string, rate: number, maxSeconds: number): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const started = performance.now();
  const samples: LoadSample[] = [];
  const failures: { at: number; status: number; error?: string }[] = [];
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let stopped = false;

  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const at = performance.now() - started;
      const req = http.get(url, { agent, timeout: 30_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) samples.push({ at, status, body });
          else failures.push({ at, status, error: body.slice(0, 200).trim() });
          resolve();
        });
        res.on('error', (err) => {
          failures.push({ at, status: 0, error: err.message });
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => {
        failures.push({ at, status: 0, error: err.message });
        resolve();
      });
    });

  const interval = 1000 / rate;
  const tick = setInterval(() => {
    if (stopped) return;
    const due = Math.floor((performance.now() - started) / interval);
    while (sent < due) {
      sent++;
      const p = one();
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
    if (performance.now() - started > maxSeconds * 1000) stopped = true;
  }, Math.max(1, Math.floor(interval)));

  return {
    elapsed: () => performance.now() - started,
    async stop() {
      stopped = true;
      clearInterval(tick);
      await Promise.all([...pending]);
      agent.destroy();
      return {
        sent,
        ok: samples.length,
        failed: failures.length,
        failures,
        firstSeen: (marker) => samples.find((s) => s.body.includes(marker))?.at,
      };
    },
  };
}
