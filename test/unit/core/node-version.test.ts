import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MINIMUM_NODE, nodeVersionProblem } from '../../../src/core/node-version.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

describe('the supported Node.js versions', () => {
  it('refuses an older Node.js with one line that says what to run instead', () => {
    for (const old of ['v20.20.2', 'v22.18.0', 'v18.20.8']) {
      expect(nodeVersionProblem(old)).toMatch(/^idp-egress needs Node\.js 22\.19 or later \(24 LTS recommended\); this is v\d+\.\d+\.\d+\./);
    }
    for (const ok of ['v22.19.0', 'v22.23.5', 'v24.22.3', 'v26.1.0', process.version]) expect(nodeVersionProblem(ok)).toBeUndefined();
  });

  it('is the floor package.json declares', () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE.major}.${MINIMUM_NODE.minor}`);
  });
});
