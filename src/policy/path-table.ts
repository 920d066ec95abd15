import type { CompiledVariable, PathNode, PathTable, Terminal } from './model.js';
import { RULE_METHODS } from '../core/endpoint-methods.js';

/**
 * One host's path trie flattened into a single array (model.ts PathTable): what decide() walks on
 * every request.
 *
 * Why not walk the PathNode objects: with a thousand hosts, a trie of small objects is spread
 * over the heap, and a request to a host that has gone cold pays a cache miss (and in a VM a
 * nested page walk) for every object it touches, about twenty-five, which made such a request
 * five times dearer than the same request to a warm host. Here a match reads one array whose
 * slots for a host sit in a few adjacent cache lines, plus literal keys interned across the
 * whole policy, which stay warm because every host shares them. The PathNode trie remains the
 * structure for everything that walks rather than matches: denial diagnosis, rules, probe.
 *
 * The node at index n:
 *   [n]       T, the number of terminals at this depth, then the T terminals
 *   then      L, the number of literal children, then L pairs (key, child index)
 *   then      P, the number of variable children, then P pairs (variable, child index)
 * Literal children are scanned, not hashed: their keys are shared, warm strings, and === on a
 * dozen of them costs less than a Map lookup that touches two more cold objects.
 */
/** No node: matchPath found no path. */
export const NO_NODE = -1;

export function flattenTrie(root: PathNode, intern: Map<string, string>): PathTable {
  const table: unknown[] = [];
  const emit = (node: PathNode): number => {
    const at = table.length;
    table.push(node.terminals.length, ...node.terminals);
    const literalsAt = table.length;
    table.push(node.literalKeys.length);
    for (const key of node.literalKeys) table.push(internedKey(intern, key), NO_NODE);
    const paramsAt = table.length;
    table.push(node.params.length);
    for (const p of node.params) table.push(p.variable, NO_NODE);
    // Children are laid out after the node's own slots; their indexes are filled in as they are.
    node.literalNodes.forEach((child, k) => (table[literalsAt + 2 + 2 * k] = emit(child)));
    node.params.forEach((p, k) => (table[paramsAt + 2 + 2 * k] = emit(p.node)));
    return at;
  };
  emit(root);
  return Object.freeze(table);
}

function internedKey(intern: Map<string, string>, key: string): string {
  const known = intern.get(key);
  if (known !== undefined) return known;
  intern.set(key, key);
  return key;
}

/**
 * The node whose path is exactly `segments` and that has terminals, or NO_NODE. Literal children
 * are tried before variables, and a literal that leads nowhere falls back to a variable.
 */
export function matchPath(table: PathTable, segments: readonly string[]): number {
  return matchAt(table, 0, segments, 0);
}

function matchAt(t: PathTable, n: number, segments: readonly string[], i: number): number {
  const terminals = t[n] as number;
  if (i === segments.length) return terminals > 0 ? n : NO_NODE;
  const seg = segments[i]!;
  const literalsAt = n + 1 + terminals;
  const literalsEnd = literalsAt + 1 + 2 * (t[literalsAt] as number);
  for (let k = literalsAt + 1; k < literalsEnd; k += 2) {
    if (t[k] === seg) {
      const found = matchAt(t, t[k + 1] as number, segments, i + 1);
      if (found !== NO_NODE) return found;
      break;
    }
  }
  const paramsEnd = literalsEnd + 1 + 2 * (t[literalsEnd] as number);
  for (let k = literalsEnd + 1; k < paramsEnd; k += 2) {
    if ((t[k] as CompiledVariable).test(seg)) {
      const found = matchAt(t, t[k + 1] as number, segments, i + 1);
      if (found !== NO_NODE) return found;
    }
  }
  return NO_NODE;
}

/** The first terminal at a matched node that allows `method`, else undefined. */
export function terminalFor(table: PathTable, node: number, method: string): Terminal | undefined {
  const bit = methodBit(method);
  for (let k = node + 1, end = node + 1 + (table[node] as number); k < end; k++) {
    const terminal = table[k] as Terminal;
    if ((terminal.methodMask & bit) !== 0) return terminal;
  }
  return undefined;
}

/** The first terminal at a matched node: the rule to name when the method is refused. */
export function firstTerminalAt(table: PathTable, node: number): Terminal {
  return table[node + 1] as Terminal;
}

/** One bit per method a pack may allow (ENDPOINT_METHODS); any other method has none. */
export function methodBit(method: string): number {
  const i = (RULE_METHODS as readonly string[]).indexOf(method);
  return i === -1 ? 0 : 1 << i;
}
