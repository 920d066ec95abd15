// Lists every import edge between the folders of src/ and fails when one points up the layer
// order below, or when files import each other in a cycle. `npm run layers`; the test suite runs
// it too (test/unit/docs/layers.test.ts), and the README's layout section states the same order.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/core/package-root.js';

/** Bottom first: a layer may import only from the layers before it (and from itself). */
export const LAYERS: readonly string[] = ['core', 'config', 'policy', 'audit', 'tls', 'proxy', 'report', 'rules', 'probe', 'admin', 'serve.ts', 'cli'];

const root = join(PACKAGE_ROOT, 'src');
const IMPORT = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const layerOf = (file: string): string => relative(root, file).split(sep)[0]!;

/** Each source file and the files it imports (type-only imports too). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(root)) {
    const targets = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

export interface LayerCheck {
  /** `from -> to` between folders, with how many imports make it. */
  readonly edges: Map<string, number>;
  /** Imports that point up the layer order, or from or to a folder the order does not name. */
  readonly upward: string[];
  readonly cycles: string[];
}

export function check(graph = importGraph()): LayerCheck {
  const edges = new Map<string, number>();
  const upward: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      const from = layerOf(file);
      const to = layerOf(target);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, (edges.get(key) ?? 0) + 1);
      const a = LAYERS.indexOf(from);
      const b = LAYERS.indexOf(to);
      if (a === -1 || b === -1 || b > a) upward.push(`${relative(root, file)} -> ${relative(root, target)}`);
    }
  }
  return { edges, upward, cycles: cycles(graph) };
}

/** File-level import cycles (type-only imports included), each named once. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(root, f)).join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { edges, upward, cycles: loops } = check();
  console.log(`layers, bottom first: ${LAYERS.join(' < ')}`);
  for (const [key, n] of [...edges].sort((x, y) => LAYERS.indexOf(x[0].split(' ')[0]!) - LAYERS.indexOf(y[0].split(' ')[0]!) || x[0].localeCompare(y[0]))) {
    console.log(`  ${key.padEnd(24)} ${n} import${n === 1 ? '' : 's'}`);
  }
  for (const u of upward) console.log(`UP     ${u}`);
  for (const c of loops) console.log(`CYCLE  ${c}`);
  console.log(`${edges.size} folder edges, ${upward.length} pointing up, ${loops.length} file cycles`);
  process.exitCode = upward.length + loops.length > 0 ? 1 : 0;
}
