import { readFileSync } from 'node:fs';
import { ProxyAgent, request } from 'undici';

/** One client's requests, back to back: when each started (ms into the window) and how long it took. */
export interface Timed {
  readonly startsMs: number[];
  readonly latenciesMs: number[];
}

/** A client for one proxy of a harness run: keep-alive, the proxy's own CA trusted for the intercepted hop. */
export function proxyClient(port: string, caFile: string): ProxyAgent {
  return new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: readFileSync(caFile, 'utf8') } });
}

/**
 * Requests for `url` through `agent`, one at a time, for `ms`; or the first status other than
 * 200, since a round of error pages would time the proxy's refusals instead of its relay.
 */
export async function timeRequests(agent: ProxyAgent, url: string, ms: number): Promise<Timed | { status: number }> {
  const startsMs: number[] = [];
  const latenciesMs: number[] = [];
  const begin = performance.now();
  const end = begin + ms;
  while (performance.now() < end) {
    const start = performance.now();
    const res = await request(url, { dispatcher: agent });
    await res.body.dump();
    if (res.statusCode !== 200) return { status: res.statusCode };
    latenciesMs.push(performance.now() - start);
    startsMs.push(start - begin);
  }
  return { startsMs, latenciesMs };
}

/** The message for a round that met a status other than 200. */
export function notServed(url: string, status: number): string {
  return `${url} answered ${status} through the proxy: is it a URL the harness serves?`;
}
