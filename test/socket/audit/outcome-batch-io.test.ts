import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FLUSH_MS, OutcomeBatch, SLICE, type OutcomeSink } from '../../../src/audit/outcome-batch.js';
import { allowedRequest as outcome } from '../../support/outcome.js';
import { until } from '../../support/wait.js';

describe('OutcomeBatch beside socket I/O', () => {
  it('lets waiting socket I/O run between turns of records, so a request never waits behind a whole burst', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      const [serverSide] = await accepted;
      let slicesBeforeData: number | undefined;
      const batches: string[][] = [];
      const sink: OutcomeSink = {
        recordAll: (outcomes) => {
          batches.push(outcomes.map((o) => o.id));
          // The first slice sends a byte on loopback: it is readable before the next turn's slice.
          if (batches.length === 1) client.write('x');
        },
        commit: () => undefined,
      };
      serverSide.once('data', () => (slicesBeforeData = batches.length));
      const batch = new OutcomeBatch([sink]);
      for (let i = 0; i < SLICE * 4; i++) batch.add(outcome(String(i)));
      await until(() => batches.length === 4, FLUSH_MS * 20, 'four slices were recorded');
      expect(slicesBeforeData).toBeLessThan(4);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
