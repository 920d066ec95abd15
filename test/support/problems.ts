import { ConfigError, formatProblem } from '../../src/core/errors.js';

/** The formatted problems `load` rejects its input with, one string per problem; fails if it accepts it. */
export function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected the input to be rejected');
}
