import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryQueue, type DropReason } from '../../../src/audit/delivery-queue.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(memoryEvents: number, maxDiskBytes = 1 << 20) {
  const directory = mkdtempSync(join(tmpdir(), 'idp-egress-spool-'));
  dirs.push(directory);
  const drops: Record<string, number> = {};
  const onDropped = (reason: DropReason, n: number) => void (drops[reason] = (drops[reason] ?? 0) + n);
  return { directory, drops, open: () => DeliveryQueue.open({ memoryEvents, directory, maxDiskBytes }, onDropped) };
}

const frame = (i: number) => Buffer.from(`event-${String(i).padStart(5, '0')}`);
const texts = (frames: Buffer[]) => frames.map((f) => f.toString());

/** Takes everything, one frame at a time. */
function drain(q: DeliveryQueue): string[] {
  const out: string[] = [];
  while (q.length > 0) out.push(...texts(q.take(1)));
  return out;
}

describe('DeliveryQueue', () => {
  it('keeps the first events in memory, spills the rest to disk, and gives them back in order', () => {
    const { open } = setup(3);
    const q = open();
    for (let i = 0; i < 10; i++) q.push(frame(i));
    expect(q.memoryCount).toBe(3);
    expect(q.diskEvents).toBe(7);
    // Taking frees memory, but while the spool holds events new ones queue behind them on disk.
    expect(texts(q.take(1))).toEqual(['event-00000']);
    q.push(frame(10));
    expect(q.diskEvents).toBe(8);
    expect(drain(q)).toEqual(Array.from({ length: 10 }, (_, i) => `event-${String(i + 1).padStart(5, '0')}`));
    q.close();
  });

  it('takes about maxBytes at a time, always at least one frame', () => {
    const { open } = setup(100);
    const q = open();
    for (let i = 0; i < 10; i++) q.push(frame(i));
    expect(q.take(25)).toHaveLength(2);
    expect(q.take(1)).toHaveLength(1);
    q.close();
  });

  it('puts unconfirmed frames back at the head', () => {
    const { open } = setup(100);
    const q = open();
    for (let i = 0; i < 4; i++) q.push(frame(i));
    const sent = q.take(1000);
    q.push(frame(4));
    q.unshift(sent.slice(2));
    expect(drain(q)).toEqual(['event-00002', 'event-00003', 'event-00004']);
    q.close();
  });

  it('keeps what is spooled across a restart', () => {
    const { open } = setup(2);
    const first = open();
    for (let i = 0; i < 6; i++) first.push(frame(i));
    first.close();
    const second = open();
    expect(second.diskEvents).toBe(4);
    expect(drain(second)).toEqual(['event-00002', 'event-00003', 'event-00004', 'event-00005']);
    second.close();
  });

  it('at shutdown writes memory (and the unconfirmed window) ahead of the spool, so the next start sends it first', () => {
    const { open } = setup(2);
    const first = open();
    for (let i = 0; i < 6; i++) first.push(frame(i));
    const inFlight = first.take(1);
    first.prependToDisk(inFlight);
    first.close();
    const second = open();
    expect(drain(second)).toEqual(Array.from({ length: 6 }, (_, i) => `event-0000${i}`));
    second.close();
  });

  it('drops the oldest segment past the disk bound and counts every event dropped', () => {
    const { open, drops } = setup(1, 4096);
    const q = open();
    const big = (i: number) => Buffer.concat([frame(i), Buffer.alloc(500, 0x41)]);
    for (let i = 0; i < 40; i++) q.push(big(i));
    expect(q.diskBytes).toBeLessThanOrEqual(4096);
    const left = drain(q).map((t) => t.slice(0, 11));
    expect(left[0]).toBe('event-00000');
    // What is left is the first event (memory) and an unbroken run of the newest.
    const firstKept = Number(left[1]!.slice(6));
    expect(left.slice(1)).toEqual(Array.from({ length: 40 - firstKept }, (_, i) => `event-${String(firstKept + i).padStart(5, '0')}`));
    expect(drops.disk_full).toBe(firstKept - 1);
    q.close();
  });

  it('cuts a torn record at a segment end on restart, and counts it', () => {
    const { open, directory, drops } = setup(1);
    const first = open();
    for (let i = 0; i < 4; i++) first.push(frame(i));
    first.close();
    const [segment] = readdirSync(directory);
    appendFileSync(join(directory, segment!), Buffer.from([0, 0, 0, 50, 1, 2]));
    const second = open();
    expect(drops.corrupt).toBe(1);
    expect(drain(second)).toEqual(['event-00001', 'event-00002', 'event-00003']);
    second.close();
  });

  it('refuses a record whose checksum does not match, keeping the ones before it', () => {
    const { open, directory, drops } = setup(1);
    const first = open();
    for (let i = 0; i < 3; i++) first.push(frame(i));
    first.close();
    const [segment] = readdirSync(directory);
    // A whole record with a wrong CRC after the two good ones.
    const bad = Buffer.alloc(8 + 3);
    bad.writeUInt32BE(3, 0);
    bad.writeUInt32BE(12345, 4);
    appendFileSync(join(directory, segment!), bad);
    const second = open();
    expect(drops.corrupt).toBe(1);
    expect(drain(second)).toEqual(['event-00001', 'event-00002']);
    second.close();
  });
});
