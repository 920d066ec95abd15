import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigCode, type ConfigProblem } from './errors.js';
import { closest } from './suggest.js';
import { redactUrl } from './redact.js';

type PathKey = string | number;

/**
 * Parses YAML text and validates it against a zod schema, turning every problem into a
 * ConfigProblem that points at file:line:col. YAML 1.2 core schema: `no`/`on` stay strings.
 */
export function parseLocatedYaml<S extends z.ZodType>(
  file: string,
  text: string,
  schema: S,
  code: ConfigCode = 'CONFIG_INVALID',
): z.output<S> {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    // yaml >= 2.8.3 raises RangeError (not YAMLParseError) for pathologically deep nesting.
    throw new ConfigError([{ code: 'CONFIG_SYNTAX', file, line: 1, col: 1, path: '', message: `cannot parse: ${(err as Error).message}` }]);
  }
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { code: 'CONFIG_SYNTAX', file, line: pos.line, col: pos.col, path: '', message: firstLine(e.message), ...syntaxFix(e.code) };
      }),
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;

  const locate = (path: readonly PathKey[], keyOf?: string) => position(doc, lineCounter, path, keyOf);
  const problems: ConfigProblem[] = [];
  for (const issue of flattenIssues(result.error.issues)) {
    problems.push(...describeIssue(file, code, issue, schema, locate));
  }
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ConfigError(problems);
}

type Issue = z.core.$ZodIssue;

/** A union's issues are nested per option; report the option the input was closest to. */
function flattenIssues(issues: readonly Issue[], prefix: readonly PathKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathKey[])];
    if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.message === 'Invalid input') {
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      if (depth(best) > 0) {
        out.push(...flattenIssues(best, path));
        continue;
      }
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

function depth(issues: readonly Issue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length + (i.code === 'unrecognized_keys' ? 1 : 0)));
}

function describeIssue(
  file: string,
  code: ConfigCode,
  issue: Issue,
  schema: z.ZodType,
  locate: (path: readonly PathKey[], keyOf?: string) => { line: number; col: number },
): ConfigProblem[] {
  const path = issue.path as PathKey[];
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(schema, path);
    return issue.keys.map((key) => {
      const suggestion = closest(key, known);
      const fix = suggestion
        ? `did you mean "${suggestion}"?`
        : known.length > 0
          ? `remove it; keys allowed here: ${known.join(', ')}`
          : 'remove it';
      return { code, file, ...locate(path, key), path: dotted([...path, key]), message: `unknown key "${key}"`, fix };
    });
  }
  const found = 'input' in issue && issue.input !== undefined ? `, found ${show(issue.input)}` : '';
  let message = issue.message;
  let fix: string | undefined;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = `is required (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_value') {
    const values = issue.values.map((v) => JSON.stringify(v));
    message = `expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}${found}`;
    const suggestion = typeof issue.input === 'string' ? closest(issue.input, issue.values.map(String)) : undefined;
    if (suggestion) fix = `did you mean "${suggestion}"?`;
  } else if (issue.code === 'invalid_type') {
    message = `expected ${issue.expected}${found}`;
  } else if (issue.code === 'invalid_format' || issue.code === 'too_small' || issue.code === 'too_big') {
    message = `${issue.message}${found}`;
  } else if (issue.code === 'custom' && issue.params && typeof issue.params['fix'] === 'string') {
    fix = issue.params['fix'];
  }
  return [{ code, file, ...locate(path), path: dotted(path), message, ...(fix ? { fix } : {}) }];
}

/**
 * Where values sit in YAML text already known to parse, for problems found after validation:
 * the text is parsed once, then each path is looked up.
 */
export function locatorFor(text: string): (path: readonly PathKey[]) => { line: number; col: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return (path) => position(doc, lineCounter, path);
}

function position(doc: Document.Parsed, lc: LineCounter, path: readonly PathKey[], keyOf?: string) {
  // Walk down as far as the document goes; a missing key is reported at its parent's key.
  let node: unknown = doc.contents;
  let keyNode: unknown;
  for (const key of path) {
    let next: unknown;
    let nextKey: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      next = pair?.value;
      nextKey = pair?.key;
    } else if (isNode(node) && 'items' in node) {
      next = (node as { items: unknown[] }).items[key as number];
    }
    if (!isNode(next)) {
      if (next === undefined && isMap(node) && isNode(keyNode)) node = keyNode;
      break;
    }
    node = next;
    keyNode = nextKey;
  }
  if (keyOf !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === keyOf);
    if (pair && isNode(pair.key)) node = pair.key;
  }
  const offset = isNode(node) && (node as YamlNode).range ? (node as YamlNode).range![0] : 0;
  return lc.linePos(offset);
}

/** Known keys of the object schema at `path`, for "did you mean" suggestions. */
export function keysAt(schema: z.ZodType, path: readonly PathKey[]): string[] {
  let s: z.core.$ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (!s) return [];
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object') s = unwrap((def['shape'] as Record<string, z.core.$ZodType>)[key as string]);
    else if (def.type === 'record') s = unwrap(def['valueType'] as z.core.$ZodType);
    else if (def.type === 'array') s = unwrap(def['element'] as z.core.$ZodType);
    else return [];
  }
  const def = s?._zod.def as unknown as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function unwrap(s: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let cur = s;
  for (let i = 0; cur && i < 10; i++) {
    const def = cur._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'readonly' || def.type === 'prefault') {
      cur = def['innerType'] as z.core.$ZodType;
    } else if (def.type === 'pipe') {
      const out = def['out'] as z.core.$ZodType;
      cur = (out._zod.def as { type: string }).type === 'transform' ? (def['in'] as z.core.$ZodType) : out;
    } else break;
  }
  return cur;
}

/** A key path as config problems print it: providers.okta.endpoints[0].id. */
export function dotted(path: readonly PathKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function show(v: unknown): string {
  // A URL in a config value may carry credentials (upstream.proxy): quoted without them.
  if (typeof v === 'string') return JSON.stringify(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? redactUrl(v) : v);
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a map';
  return String(v);
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function syntaxFix(code: string): { fix?: string } {
  switch (code) {
    case 'TAB_AS_INDENT':
      return { fix: 'indent with spaces; YAML does not allow tabs for indentation' };
    case 'DUPLICATE_KEY':
      return { fix: 'remove one of the two entries; a key may appear once per map' };
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return { fix: 'check the indentation and quoting of this line and the one before' };
    default:
      return {};
  }
}
