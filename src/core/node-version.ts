/**
 * The oldest Node.js idp-egress runs on: 22.19, what undici 8 needs (22 is the floor, 24 LTS the
 * target; Node.js 20 left support in April 2026). package.json's engines says the same, and a test
 * keeps them in step.
 */
export const MINIMUM_NODE = { major: 22, minor: 19 } as const;

/** Why this Node.js cannot run idp-egress, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major > MINIMUM_NODE.major || (major === MINIMUM_NODE.major && minor >= MINIMUM_NODE.minor)) return undefined;
  return `idp-egress needs Node.js ${MINIMUM_NODE.major}.${MINIMUM_NODE.minor} or later (24 LTS recommended); this is ${version}. README.md, "Supported Node.js versions", says how to install one.`;
}
