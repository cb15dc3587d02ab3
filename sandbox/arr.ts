// The front end of a scaled-out App Service site: Application Request Routing in front of one IIS
// per instance. As the real front end does, a request whose `ARRAffinity` cookie names an instance
// goes to that instance; any other request goes to the next instance in turn, and the answer sets
// `ARRAffinity` (and `ARRAffinitySameSite`) so the client sticks to it; the site's "ARR affinity"
// setting (General settings) turns the cookie on, as it is by default.

import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ArrInstance {
  /** The instance id ARM lists (…/instances/<id>), which the cookie carries. */
  id: string;
  /** The instance's IIS, e.g. http://127.0.0.1:port */
  url: string;
}

export interface Arr {
  url: string;
  /** Requests routed to each instance id, in order. */
  routed: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** The instance an `ARRAffinity` cookie pins, if it names one of `ids`. */
export function pinnedInstance(cookie: string | undefined, ids: readonly string[]): string | undefined {
  const value = /(?:^|;\s*)ARRAffinity=([^;]*)/.exec(cookie ?? '')?.[1]?.trim();
  return value !== undefined && ids.includes(value) ? value : undefined;
}

export async function startArr(instances: ArrInstance[]): Promise<Arr> {
  if (instances.length === 0) throw new Error('ARR needs at least one instance');
  const ids = instances.map((i) => i.id);
  const routed: string[] = [];
  let next = 0;
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const pinned = pinnedInstance(req.headers.cookie, ids);
    const chosen = pinned !== undefined ? instances.find((i) => i.id === pinned)! : instances[next++ % instances.length];
    routed.push(chosen.id);
    const target = new URL(chosen.url);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      if (pinned === undefined) {
        const host = (req.headers.host ?? '').replace(/:\d+$/, '');
        const cookies = [`ARRAffinity=${chosen.id};Path=/;HttpOnly;Domain=${host}`, `ARRAffinitySameSite=${chosen.id};Path=/;HttpOnly;SameSite=None;Secure;Domain=${host}`];
        const existing = out['set-cookie'];
        out['set-cookie'] = [...(Array.isArray(existing) ? existing : existing === undefined ? [] : [String(existing)]), ...cookies];
      }
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
      up.once('error', () => res.destroy());
    });
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('502 Bad Gateway: the instance did not answer\n');
      else res.destroy();
    });
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    routed,
    close: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
