import { describe, expect, it } from 'vitest';
import { sweepPeriodMs, UpstreamDeadlines, type DeadlineLimits, type ExchangePhase, type WatchedExchange } from '../../../src/proxy/upstream-deadlines.js';

/** An exchange that records why it expired, and with which code. */
function exchange(): WatchedExchange & { expired: string[]; codes: string[] } {
  const expired: string[] = [];
  const codes: string[] = [];
  return {
    phase: 'connecting',
    startTick: 0,
    progressTick: 0,
    watchSlot: -1,
    expired,
    codes,
    expire: (code, reason) => {
      codes.push(code);
      expired.push(reason);
    },
  };
}

/** Deadlines swept by the test: 300 ms limits sweep every 30 ms, so a limit is ten sweeps. */
function deadlines(limits: DeadlineLimits = { headers: 300, body: 300 }): UpstreamDeadlines {
  return new UpstreamDeadlines(limits, { autoSweep: false });
}

/** An exchange watched by `d`, in `phase` since the last sweep. */
function watchedIn(d: UpstreamDeadlines, phase: ExchangePhase): ReturnType<typeof exchange> {
  const x = exchange();
  d.watch(x);
  d.enter(x, phase);
  return x;
}

function sweeps(d: UpstreamDeadlines, n: number): void {
  for (let i = 0; i < n; i++) d.sweep();
}

describe('sweepPeriodMs', () => {
  it('sweeps ten times within the shortest limit set, between 10 ms and 1 s', () => {
    expect(sweepPeriodMs({ headers: 30_000, body: 60_000, total: 0 })).toBe(1_000);
    expect(sweepPeriodMs({ headers: 300, body: 5_000, total: 0 })).toBe(30);
    expect(sweepPeriodMs({ headers: 0, body: 5_000, total: 2_000 })).toBe(200);
    expect(sweepPeriodMs({ headers: 50, body: 50 })).toBe(10);
    expect(sweepPeriodMs({ connect: 1_000, headers: 30_000, body: 60_000 })).toBe(100);
  });

  it('has no sweep when every limit is off', () => {
    expect(sweepPeriodMs({ headers: 0, body: 0, total: 0 })).toBeUndefined();
    expect(new UpstreamDeadlines({ headers: 0, body: 0 }).periodMs).toBeUndefined();
  });
});

describe('UpstreamDeadlines', () => {
  it('expires an exchange awaiting headers once the limit has surely passed, never before', () => {
    const d = deadlines();
    const x = watchedIn(d, 'headers');
    // Entered between sweeps 0 and 1: after sweep 10 only 9 periods (270 ms) have surely passed.
    sweeps(d, 10);
    expect(x.expired).toEqual([]);
    d.sweep();
    expect(x.expired).toEqual(['no response headers within 300 ms of the request (upstream.timeouts.headers)']);
    expect(x.codes).toEqual(['UPSTREAM_TIMEOUT']);
    expect(d.size).toBe(0);
    sweeps(d, 20);
    expect(x.expired).toHaveLength(1);
  });

  it('starts the body clock again on each chunk', () => {
    const d = deadlines();
    const x = watchedIn(d, 'body');
    sweeps(d, 8);
    d.progress(x);
    sweeps(d, 10);
    expect(x.expired).toEqual([]);
    d.sweep();
    expect(x.expired).toEqual(['no body data for 300 ms (upstream.timeouts.body)']);
  });

  it('does not time a client that holds the provider back when limits.idleTimeout is off, nor a request body when limits.requestBodyTimeout is', () => {
    const d = deadlines();
    const phases = (['sending', 'paused'] as const).map((phase) => watchedIn(d, phase));
    sweeps(d, 100);
    expect(phases.map((x) => x.expired)).toEqual([[], []]);
    expect(d.size).toBe(2);
  });

  it("times a client that reads nothing while its socket is full by limits.idleTimeout, afresh at each drain, and calls it the client's timeout", () => {
    const d = deadlines({ headers: 5_000, body: 5_000, paused: 300 });
    const stalled = watchedIn(d, 'paused');
    const draining = watchedIn(d, 'paused');
    sweeps(d, 9);
    // The slow reader drains now and then: back to the body, then full again.
    d.enter(draining, 'body');
    d.enter(draining, 'paused');
    sweeps(d, 2);
    expect(stalled.codes).toEqual(['REQUEST_TIMEOUT']);
    expect(stalled.expired).toEqual(['the client read nothing of the response for 300 ms, with the rest waiting for room in its socket (limits.idleTimeout)']);
    expect(draining.expired).toEqual([]);
    expect(d.size).toBe(1);
  });

  it("times the request body going up as a whole, progress or not, and calls it the client's timeout", () => {
    const d = deadlines({ headers: 5_000, body: 5_000, sending: 300 });
    const trickling = watchedIn(d, 'sending');
    const stalled = watchedIn(d, 'sending');
    for (let i = 0; i < 10; i++) {
      d.sweep();
      d.progress(trickling);
    }
    expect([trickling.expired, stalled.expired]).toEqual([[], []]);
    d.sweep();
    const reason = 'the client did not send the whole request body within 300 ms (limits.requestBodyTimeout)';
    expect([trickling.expired, stalled.expired]).toEqual([[reason], [reason]]);
    expect([...trickling.codes, ...stalled.codes]).toEqual(['REQUEST_TIMEOUT', 'REQUEST_TIMEOUT']);
    // Once the body is up the request waits for headers, on the provider's clock.
    const sent = watchedIn(d, 'sending');
    sweeps(d, 8);
    d.enter(sent, 'headers');
    sweeps(d, 20);
    expect(sent.expired).toEqual([]);
  });

  it('times the wait for a provider connection by the connect limit, when one is set', () => {
    const d = deadlines({ connect: 300, headers: 5_000, body: 5_000 });
    const waiting = watchedIn(d, 'connecting');
    sweeps(d, 10);
    expect(waiting.expired).toEqual([]);
    d.sweep();
    expect(waiting.expired).toEqual(['no connection to the provider within 300 ms (upstream.timeouts.connect)']);
    const noConnectLimit = deadlines({ headers: 300, body: 300 });
    const untimed = watchedIn(noConnectLimit, 'connecting');
    sweeps(noConnectLimit, 100);
    expect(untimed.expired).toEqual([]);
  });

  it("times the wait for the client's share of the pool by the connect limit, then the connection's own wait afresh", () => {
    const d = deadlines({ connect: 300, headers: 5_000, body: 5_000 });
    const waiting = watchedIn(d, 'queued');
    const started = watchedIn(d, 'queued');
    sweeps(d, 8);
    d.enter(started, 'connecting');
    sweeps(d, 3);
    expect(waiting.expired).toEqual([
      "no turn within 300 ms: the client's other requests to this provider held its whole share of the provider's connections (upstream.timeouts.connect)",
    ]);
    expect(started.expired).toEqual([]);
    sweeps(d, 8);
    expect(started.expired).toEqual(['no connection to the provider within 300 ms (upstream.timeouts.connect)']);
  });

  it('times the whole exchange from its dispatch in every phase, progress or not', () => {
    const d = deadlines({ headers: 0, body: 0, total: 300 });
    const paused = watchedIn(d, 'paused');
    const busy = watchedIn(d, 'body');
    for (let i = 0; i < 10; i++) {
      d.sweep();
      d.progress(busy);
    }
    expect([paused.expired, busy.expired]).toEqual([[], []]);
    d.sweep();
    const total = 'no complete response within 300 ms (upstream.timeouts.total)';
    expect([paused.expired, busy.expired]).toEqual([[total], [total]]);
  });

  it('leaves a phase whose limit is 0 untimed', () => {
    const d = deadlines({ headers: 0, body: 300 });
    const x = watchedIn(d, 'headers');
    sweeps(d, 1_000);
    expect(x.expired).toEqual([]);
  });

  it('forgets an exchange that ended', () => {
    const d = deadlines();
    const x = watchedIn(d, 'headers');
    d.forget(x);
    sweeps(d, 100);
    expect([x.expired, d.size]).toEqual([[], 0]);
  });

  it('keeps timing the others when one in the middle ends, and watches an exchange once', () => {
    const d = deadlines();
    const [first, middle, last] = [watchedIn(d, 'headers'), watchedIn(d, 'headers'), watchedIn(d, 'headers')];
    d.watch(last);
    d.enter(last, 'headers');
    expect(d.size).toBe(3);
    d.forget(middle);
    expect(d.size).toBe(2);
    sweeps(d, 11);
    expect([first.expired, middle.expired, last.expired].map((e) => e.length)).toEqual([1, 0, 1]);
    expect(d.size).toBe(0);
  });

  it('does not expire an exchange that an earlier expiry in the same sweep ended', () => {
    const d = deadlines();
    const ended = watchedIn(d, 'headers');
    const expiring = exchange();
    expiring.expire = (_code, reason) => {
      expiring.expired.push(reason);
      d.forget(ended);
    };
    d.watch(expiring);
    d.enter(expiring, 'headers');
    // `ended` was watched first, so move it behind: forget and watch it again.
    d.forget(ended);
    d.watch(ended);
    d.enter(ended, 'headers');
    sweeps(d, 11);
    expect([expiring.expired.length, ended.expired, d.size]).toEqual([1, [], 0]);
  });
});
