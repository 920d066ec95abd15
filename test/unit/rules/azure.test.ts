import { parse as parseHcl } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import { cliIn } from '../../support/cli.js';

const SITE = 'providers:\n  entra-id: {}\n  okta: {}\n  keycloak:\n    baseUrl: https://sso.example.org:8443\n';

const rules = (format: string) => cliIn(SITE, ['rules', '--format', format]);

interface ArmRule {
  ruleType: string;
  name: string;
  protocols: { protocolType: string; port: number }[];
  targetFqdns: string[];
}

describe('azure-firewall (ARM)', () => {
  it('is a template whose rule collection group meets the Firewall Policy constraints', async () => {
    const r = await rules('azure-firewall');
    const template = JSON.parse(r.out) as {
      metadata: { cannotExpress: string[] };
      parameters: Record<string, { type: string; defaultValue?: number; minValue?: number; maxValue?: number }>;
      resources: { type: string; apiVersion: string; properties: { priority: number | string; ruleCollections: { ruleCollectionType: string; priority: number; action: { type: string }; rules: ArmRule[] }[] } }[];
    };
    expect(template.metadata.cannotExpress.join(' ')).toContain('wider than the gateway');
    const group = template.resources[0]!;
    expect(group).toMatchObject({ type: 'Microsoft.Network/firewallPolicies/ruleCollectionGroups', apiVersion: '2024-05-01' });
    // Constraints from the 2024-05-01 swagger and the Azure Firewall FAQ (reference/firewall-formats.md section 7).
    const inRange = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n <= hi;
    // The group's priority is the site's: a parameter with the documented range.
    expect(group.properties.priority).toBe("[parameters('rulePriority')]");
    expect(template.parameters['rulePriority']).toEqual({ type: 'int', defaultValue: 300, minValue: 100, maxValue: 65000, metadata: expect.anything() });
    const names = new Set<string>();
    for (const c of group.properties.ruleCollections) {
      expect(c.ruleCollectionType).toBe('FirewallPolicyFilterRuleCollection');
      expect(inRange(c.priority, 100, 65000)).toBe(true);
      expect(c.action.type).toBe('Allow');
      for (const rule of c.rules) {
        expect(rule.ruleType).toBe('ApplicationRule');
        expect(names.has(rule.name), rule.name).toBe(false);
        names.add(rule.name);
        for (const p of rule.protocols) {
          expect(['Http', 'Https']).toContain(p.protocolType);
          expect(inRange(p.port, 0, 64000)).toBe(true);
        }
        for (const fqdn of rule.targetFqdns) {
          // "*" only leftmost and followed by a dot (never "*okta.com", which also matches evilokta.com).
          expect(fqdn, fqdn).toMatch(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+$/);
        }
      }
    }
    expect(group.properties.ruleCollections[0]!.rules.map((x) => [x.name, x.protocols[0]!.port, x.targetFqdns])).toEqual([
      ['entra-id', 443, ['graph.microsoft.com', 'login.microsoftonline.com']],
      ['keycloak-8443', 8443, ['sso.example.org']],
      ['okta', 443, ['*.okta-emea.com', '*.okta.com', '*.oktapreview.com']],
    ]);
  });
});

describe('azure-firewall-terraform', () => {
  it("is Terraform's JSON syntax with the same rules, and every expression in it parses as HCL", async () => {
    const r = await rules('azure-firewall-terraform');
    const tf = JSON.parse(r.out) as {
      '//': string;
      variable: Record<string, { type: string; default?: number; validation?: { condition: string }[] }>;
      resource: { azurerm_firewall_policy_rule_collection_group: { idp_egress: { priority: string; firewall_policy_id: string; application_rule_collection: { priority: number; rule: { name: string; source_addresses: string; destination_fqdns: string[]; protocols: { type: string; port: number }[] }[] }[] } } };
    };
    expect(tf['//']).toMatch(/^idp-egress rules, format azure-firewall-terraform\n/);
    expect(tf['//']).toContain('wider than the gateway');
    expect(Object.keys(tf.variable).sort()).toEqual(['firewall_policy_id', 'priority', 'source_addresses']);
    expect(tf.variable['priority']).toMatchObject({ type: 'number', default: 300 });
    expect(tf.variable['source_addresses']!.type).toBe('list(string)');
    const group = tf.resource.azurerm_firewall_policy_rule_collection_group.idp_egress;
    expect(group.priority).toBe('${var.priority}');
    expect(group.application_rule_collection[0]!.rule.map((x) => [x.name, x.protocols[0]!.port, x.destination_fqdns])).toEqual([
      ['entra-id', 443, ['graph.microsoft.com', 'login.microsoftonline.com']],
      ['keycloak-8443', 8443, ['sso.example.org']],
      ['okta', 443, ['*.okta-emea.com', '*.okta.com', '*.oktapreview.com']],
    ]);
    // Each "${...}" is an HCL expression Terraform evaluates: parsed by a real HCL parser.
    const expressions = [...r.out.matchAll(/"\$\{((?:[^"\\]|\\.)*)\}"/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
    expect(expressions.sort()).toEqual(['var.firewall_policy_id', 'var.priority', 'var.priority >= 100 && var.priority <= 65000', ...Array(3).fill('var.source_addresses')].sort());
    for (const e of expressions) await expect(parseHcl('expr.tf', `x = ${e}\n`)).resolves.toBeDefined();
    // The parser is a real check: a broken expression is refused.
    await expect(parseHcl('broken.tf', 'x = var.priority >= && 1\n')).rejects.toThrow();
  });
});
