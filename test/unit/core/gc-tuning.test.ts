import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_OPTIONS, missingNodeOptions } from '../../../src/core/gc-tuning.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

const shipped = (file: string) => readFileSync(join(PACKAGE_ROOT, file), 'utf8');

function harnessStart(file: string): string[] {
  return /^START="(.*)"$/m.exec(shipped(file))![1]!.split(' ');
}

/** The words of each shipped start of the gateway, and of the floors measured beside it, node first. */
const STARTS: Readonly<Record<string, string[]>> = {
  'npm start': (JSON.parse(shipped('package.json')) as { scripts: { start: string } }).scripts.start.split(' '),
  'the Dockerfile ENTRYPOINT': JSON.parse(/^ENTRYPOINT (.*)$/m.exec(shipped('Dockerfile'))![1]!) as string[],
  'the systemd unit': /^ExecStart=(.*)$/m.exec(shipped('deploy/systemd/idp-egress.service'))![1]!.split(' '),
  // The definitions the README's runs beside Squid start the gateway with.
  'the harness definition, intercept': harnessStart('bench/anchors/idp-egress.sh'),
  'the harness definition, tunnel': harnessStart('bench/anchors/idp-egress-tunnel.sh'),
  // The floors beside it start likewise, so they differ from the gateway in work only.
  'the harness definition, Node floor': harnessStart('bench/anchors/node-floor.sh'),
  'the harness definition, Node tunnel floor': harnessStart('bench/anchors/node-tunnel-floor.sh'),
};

describe('the node options the gateway is started with', () => {
  it.each(Object.entries(STARTS))('%s passes every one of them to node, before the script', (_start, words) => {
    const script = words.findIndex((w) => /dist\/(src\/cli\/main|bench\/(floor-proxy|tunnel-floor))\.js$/.test(w));
    expect(words[0]).toMatch(/(^|\/|:-)node\}?$/);
    expect(script).toBeGreaterThan(0);
    expect(words.slice(1, script)).toEqual([...GATEWAY_NODE_OPTIONS]);
  });

  it('names the ones a process was started without, by name, from argv or NODE_OPTIONS', () => {
    expect(missingNodeOptions([], '')).toEqual([...GATEWAY_NODE_OPTIONS]);
    expect(missingNodeOptions(['--max-semi-space-size=32', '--min-semi-space-size=32', '--initial-old-space-size=64'], '')).toEqual([]);
    expect(missingNodeOptions(['--max-semi-space-size=32'], '')).toEqual(['--min-semi-space-size=32', '--initial-old-space-size=64']);
    // Another value, or V8's underscore spelling, is the operator's own choice.
    expect(missingNodeOptions(['--max_semi_space_size=16', '--initial-old-space-size=256'], '--min_semi_space_size=2')).toEqual([]);
    expect(missingNodeOptions(['--enable-source-maps', '--initial_old_space_size=128'], '--max-old-space-size=512 --min-semi-space-size=4 --max-semi-space-size=4')).toEqual([]);
    expect(missingNodeOptions(['--max-old-space-size=512'], '')).toEqual([...GATEWAY_NODE_OPTIONS]);
  });
});
