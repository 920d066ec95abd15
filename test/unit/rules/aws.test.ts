import { describe, expect, it } from 'vitest';
import { cloudFormationErrors } from '../../support/cloudformation.js';
import { cliIn } from '../../support/cli.js';

const SITE = 'providers:\n  entra-id: {}\n  okta: {}\n  keycloak:\n    baseUrl: https://sso.example.org:8443\n';

const rules = (format: string) => cliIn(SITE, ['rules', '--format', format]);

interface Template {
  Metadata: { cannotExpress: string[] };
  Parameters: Record<string, { Type: string }>;
  Resources: Record<string, { Type: string; Properties: { Capacity: number; RuleGroup: { RulesSource: { RulesSourceList?: { TargetTypes: string[]; Targets: string[] }; RulesString?: string } } } }>;
}

describe('the CloudFormation spec check itself', () => {
  it('rejects a bad enum, an unknown property, a missing required one and a wrong type', async () => {
    const template = JSON.parse((await rules('aws-network-firewall')).out) as Template;
    const group = template.Resources['IdpEgressDomainAllowlist']!.Properties as unknown as Record<string, unknown>;
    const broken = structuredClone(template);
    Object.assign(broken.Resources['IdpEgressDomainAllowlist']!.Properties, { Type: 'STATEFULL', Colour: 'red', Capacity: '100' });
    delete (broken.Resources['IdpEgressDomainAllowlist']!.Properties as unknown as Record<string, unknown>)['RuleGroupName'];
    expect(cloudFormationErrors(broken)).toEqual([
      'Resources.IdpEgressDomainAllowlist.Properties.RuleGroupName: required by RuleGroup',
      'Resources.IdpEgressDomainAllowlist.Properties.Type: "STATEFULL" is not one of STATELESS, STATEFUL',
      'Resources.IdpEgressDomainAllowlist.Properties.Capacity: expected an integer, found "100"',
      'Resources.IdpEgressDomainAllowlist.Properties.Colour: not a property of RuleGroup',
    ]);
    expect(group['Type']).toBe('STATEFUL');
  });
});

describe('aws-network-firewall (domain list)', () => {
  it('is a template whose rule group meets the AWS::NetworkFirewall::RuleGroup spec', async () => {
    const r = await rules('aws-network-firewall');
    expect(r.status).toBe(0);
    const template = JSON.parse(r.out) as Template;
    expect(cloudFormationErrors(template)).toEqual([]);
    expect(template.Parameters['HomeNet']!.Type).toBe('CommaDelimitedList');
    const list = template.Resources['IdpEgressDomainAllowlist']!.Properties.RuleGroup.RulesSource.RulesSourceList!;
    // The spec types TargetTypes as plain strings; the values are from the RulesSourceList docs.
    expect(list.TargetTypes).toEqual(['TLS_SNI', 'HTTP_HOST']);
    // Only explicit names or a leading "." (apex and all subdomains); never "*".
    expect(list.Targets).toEqual(['graph.microsoft.com', 'login.microsoftonline.com', 'sso.example.org', '.okta-emea.com', '.okta.com', '.oktapreview.com']);
    expect(template.Metadata.cannotExpress.join(' ')).toContain('wider than the gateway');
  });
});

describe('aws-network-firewall-suricata', () => {
  it('carries the suricata format\'s rules as the RulesString of a STRICT_ORDER group', async () => {
    const template = JSON.parse((await rules('aws-network-firewall-suricata')).out) as Template;
    expect(cloudFormationErrors(template)).toEqual([]);
    const group = template.Resources['IdpEgressSuricataRules']!.Properties;
    const suricata = (await rules('suricata')).out.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(group.RuleGroup.RulesSource.RulesString!.split('\n')).toEqual(suricata);
    expect(group.Capacity).toBeGreaterThanOrEqual(suricata.length);
    expect(group.RuleGroup).toMatchObject({ StatefulRuleOptions: { RuleOrder: 'STRICT_ORDER' } });
  });
});
