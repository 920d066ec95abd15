/**
 * Freezes a value and everything it reaches: plain objects, arrays, Maps and Sets. The config and
 * the compiled policy are shared by every request and replaced whole on reload, never edited.
 *
 * Object.freeze alone does not make a Map or Set read-only: set, add, delete and clear change
 * internal slots, not properties. Each frozen Map and Set therefore gets own mutators that throw,
 * so a stray write fails loudly instead of changing the policy under live traffic.
 */
export function deepFreeze<T>(value: T): T {
  freeze(value, new Set());
  return value;
}

function freeze(v: unknown, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) {
      freeze(k, seen);
      freeze(x, seen);
    }
    refuseWrites(v, ['set', 'delete', 'clear']);
  } else if (v instanceof Set) {
    for (const x of v) freeze(x, seen);
    refuseWrites(v, ['add', 'delete', 'clear']);
  } else {
    for (const x of Object.values(v)) freeze(x, seen);
  }
  Object.freeze(v);
}

function refuseWrites(collection: object, methods: readonly string[]): void {
  for (const method of methods) {
    Object.defineProperty(collection, method, {
      value: () => {
        throw new TypeError(`cannot ${method} on a frozen ${collection.constructor.name}`);
      },
    });
  }
}
