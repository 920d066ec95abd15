import { describe, expect, it } from 'vitest';
import { TunnelIdle } from '../../../src/proxy/tunnel-idle.js';

/** A client socket's byte counts, moved by hand. */
const counts = () => ({ bytesRead: 0, bytesWritten: 0 });

describe('TunnelIdle (limits.idleTimeout for spliced tunnels)', () => {
  it('sweeps ten times within the limit, at most once a second and at least every 10 ms', () => {
    expect(new TunnelIdle(1_000, { autoSweep: false }).periodMs).toBe(100);
    expect(new TunnelIdle(60_000, { autoSweep: false }).periodMs).toBe(1_000);
    expect(new TunnelIdle(50, { autoSweep: false }).periodMs).toBe(10);
  });

  it('closes a tunnel whose counts have not moved for the limit, and not a sweep earlier', () => {
    const idle = new TunnelIdle(1_000, { autoSweep: false });
    let closed = 0;
    idle.watch(counts(), () => closed++);
    // Watched between sweeps 0 and 1: after sweep n at least (n - 1) periods of 100 ms have passed.
    for (let n = 1; n <= 10; n++) idle.sweep();
    expect(closed).toBe(0);
    idle.sweep();
    expect(closed).toBe(1);
    expect(idle.size).toBe(0);
    idle.sweep();
    expect(closed).toBe(1);
  });

  it('starts the count again when bytes move either way', () => {
    const idle = new TunnelIdle(1_000, { autoSweep: false });
    const socket = counts();
    let closed = 0;
    idle.watch(socket, () => closed++);
    for (let n = 1; n <= 8; n++) idle.sweep();
    socket.bytesRead += 1;
    for (let n = 1; n <= 10; n++) idle.sweep();
    socket.bytesWritten += 1;
    for (let n = 1; n <= 10; n++) idle.sweep();
    expect(closed).toBe(0);
    idle.sweep();
    expect(closed).toBe(1);
  });

  it('forgets a tunnel that ended, and keeps watching the others as slots move', () => {
    const idle = new TunnelIdle(1_000, { autoSweep: false });
    const closed: string[] = [];
    const a = counts();
    const b = counts();
    const c = counts();
    const watchA = idle.watch(a, () => closed.push('a'));
    idle.watch(b, () => closed.push('b'));
    idle.watch(c, () => closed.push('c'));
    watchA.forget();
    watchA.forget();
    expect(idle.size).toBe(2);
    for (let n = 1; n <= 5; n++) idle.sweep();
    c.bytesRead = 10;
    for (let n = 1; n <= 6; n++) idle.sweep();
    expect(closed).toEqual(['b']);
    for (let n = 1; n <= 5; n++) idle.sweep();
    expect(closed).toEqual(['b', 'c']);
  });

  it('lets a close that ends another tunnel forget it before its turn', () => {
    const idle = new TunnelIdle(1_000, { autoSweep: false });
    const closed: string[] = [];
    const watches: { forget(): void }[] = [];
    watches.push(idle.watch(counts(), () => (closed.push('first'), watches[1]!.forget())));
    watches.push(idle.watch(counts(), () => closed.push('second')));
    for (let n = 1; n <= 11; n++) idle.sweep();
    expect(closed).toEqual(['first']);
    expect(idle.size).toBe(0);
  });
});
