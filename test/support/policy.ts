import { parseSiteConfig } from '../../src/config/load.js';
import { compilePolicy } from '../../src/policy/compile.js';
import type { Policy } from '../../src/policy/model.js';
import type { Decision } from '../../src/policy/decide.js';
import { judge as judgeRequest } from '../../src/policy/judge.js';
import { loadPacks } from '../../src/policy/pack.js';

const packs = loadPacks();

/** The shipped packs compiled with a site config given as YAML text. */
export function policyFrom(yaml: string): Policy {
  return compilePolicy(packs, parseSiteConfig('test.yaml', yaml), { file: 'test.yaml', text: yaml });
}

/** A site that binds every provider, as a production config would. */
export const BOUND_SITE = `
version: 1
providers:
  entra-id:
    tenant: [11111111-2222-3333-4444-555555555555, contoso.onmicrosoft.com]
  google:
    customer: C03az79cb
    domain: example.com
  okta:
    domain: acme.okta.com
  keycloak:
    baseUrl: https://sso.example.org/auth
    realm: staff
  onelogin:
    host: acme.onelogin.com
`;

export const TENANT = '11111111-2222-3333-4444-555555555555';

/**
 * The rules suites' site: Entra pinned, Okta unbound and tunnelled (wildcard hosts), Keycloak
 * on a non-default port under /auth; one of each shape a rules format must render.
 */
export const RULES_SITE = `providers:
  entra-id:
    tenant: ${TENANT}
  okta:
    tls: tunnel
  keycloak:
    baseUrl: https://sso.example.org:8443/auth
    realm: staff
`;

/** The decision for `METHOD URL` sent to the proxy, as `explain` reaches it. */
export function judge(policy: Policy, method: string, url: string): Decision {
  return judgeRequest(policy, { form: 'absolute', method, url }).decision;
}

/**
 * An example config's commented-out block, switched on: the `# key:` lines lose their `# `, the
 * prose stays a comment. The deploy examples ship SIEM delivery this way.
 */
export function uncommented(yaml: string): string {
  return yaml.replace(/^([ \t]*)# ([ \t]*[A-Za-z]+:(?:[ \t].*)?)$/gm, '$1$2');
}
