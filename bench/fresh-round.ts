/**
 * One round of harness-p99.ts --fresh-client, in a Node process of its own, as the harness's
 * load client (client/load.mjs) runs every cell: it warms up for `warmupMs` (not timed), then
 * times `durationMs` of requests and prints them as JSON (timed-requests.ts, Timed) on stdout.
 *
 * node dist/bench/fresh-round.js PORT CA_FILE URL WARMUP_MS DURATION_MS
 */
import { notServed, proxyClient, timeRequests } from './timed-requests.js';

const [port, caFile, url, warmupMs, durationMs] = process.argv.slice(2) as [string, string, string, string, string];
const agent = proxyClient(port, caFile);
const warm = await timeRequests(agent, url, Number(warmupMs));
const timed = 'status' in warm ? warm : await timeRequests(agent, url, Number(durationMs));
if ('status' in timed) {
  console.error(`harness-p99: ${notServed(url, timed.status)}`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(timed));
await agent.close();
