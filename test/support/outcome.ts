import type { Outcome } from '../../src/audit/outcome.js';

/** An allowed, intercepted request's outcome named by `id`: for tests of what carries outcomes, not what they say. */
export function allowedRequest(id: string): Outcome {
  return { id, kind: 'request', client: '127.0.0.1', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', code: 'ALLOWED', decision: undefined, enforced: false, status: 200, tls: 'intercept', reason: 'r', durationMs: 1, time: Date.now() };
}
