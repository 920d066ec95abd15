import { DOES_NOT_BLOCK, header, siteMetadata, type RulesContext } from './context.js';

/**
 * Azure Firewall Policy application rules (Standard SKU: TargetFQDN on the TLS SNI / HTTP Host).
 * Azure's "*.okta.com" matches every depth below okta.com, wider than our one label; there is
 * no narrower form, so the wildcard widens and the output says so. Paths need Premium with TLS
 * inspection and TargetURLs whose wildcards Azure only allows at either end; not emitted.
 */
const CANNOT = [
  'paths, methods and tenants: application rules match the host (SNI or Host header) only',
  '"*.parent" matches every depth below parent in Azure, wider than the gateway\'s one label; bind the org (providers.<name>.domain/host) to emit exact names',
];

/**
 * The group's priority is the site's to choose (groups are processed by priority, 100 to 65,000,
 * lowest first, and each must be unique in its policy): a parameter whose default is 300. The one
 * collection inside it takes the lowest priority.
 */
const PRIORITY = { group: 300, collection: 100, min: 100, max: 65_000 } as const;

interface AzureRule {
  readonly name: string;
  readonly port: number;
  readonly fqdns: readonly string[];
}

/** One rule per provider and port: names that are easy to read in the portal. */
function azureRules(ctx: RulesContext): AzureRule[] {
  const rules = new Map<string, { name: string; port: number; fqdns: Set<string> }>();
  for (const h of ctx.hosts) {
    const key = `${h.provider}:${h.port}`;
    const rule = rules.get(key) ?? { name: h.port === 443 ? h.provider : `${h.provider}-${h.port}`, port: h.port, fqdns: new Set<string>() };
    rule.fqdns.add(h.host);
    rules.set(key, rule);
  }
  return [...rules.values()].map((r) => ({ name: r.name, port: r.port, fqdns: [...r.fqdns] }));
}

/** An ARM template deploying one rule collection group into an existing firewall policy. */
export function renderAzureArm(ctx: RulesContext): string {
  return `${JSON.stringify(
    {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      metadata: { generator: ctx.generator, generatedAt: ctx.generatedAt, source: ctx.source, configDigest: ctx.configDigest, doesNotBlock: DOES_NOT_BLOCK['azure-firewall-terraform'], cannotExpress: CANNOT, ...siteMetadata(ctx) },
      parameters: {
        firewallPolicyName: { type: 'string', metadata: { description: 'The existing Azure Firewall Policy to add the rules to' } },
        sourceAddresses: { type: 'array', metadata: { description: 'Addresses of the Atlassian servers (CIDRs)' } },
        rulePriority: {
          type: 'int',
          defaultValue: PRIORITY.group,
          minValue: PRIORITY.min,
          maxValue: PRIORITY.max,
          metadata: { description: 'Priority of the idp-egress rule collection group in the policy (unique per policy; lower is processed first)' },
        },
      },
      resources: [
        {
          type: 'Microsoft.Network/firewallPolicies/ruleCollectionGroups',
          apiVersion: '2024-05-01',
          name: "[format('{0}/{1}', parameters('firewallPolicyName'), 'idp-egress')]",
          properties: {
            priority: "[parameters('rulePriority')]",
            ruleCollections: [
              {
                ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
                name: 'idp-egress-allowlist',
                priority: PRIORITY.collection,
                action: { type: 'Allow' },
                rules: azureRules(ctx).map((r) => ({
                  ruleType: 'ApplicationRule',
                  name: r.name,
                  sourceAddresses: "[parameters('sourceAddresses')]",
                  protocols: [{ protocolType: 'Https', port: r.port }],
                  targetFqdns: r.fqdns,
                })),
              },
            ],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * The same as Terraform (azurerm_firewall_policy_rule_collection_group), in Terraform's JSON
 * syntax (.tf.json): built as data and serialised, so no name or host can break the quoting the
 * way a string template of HCL could. "//" properties are Terraform JSON's comments.
 */
export function renderAzureTerraform(ctx: RulesContext): string {
  const comment = header(ctx, '', 'azure-firewall-terraform', CANNOT).split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
  const tf = {
    '//': comment,
    variable: {
      firewall_policy_id: { description: 'The existing Azure Firewall Policy to add the rules to', type: 'string' },
      source_addresses: { description: 'Addresses of the Atlassian servers (CIDRs)', type: 'list(string)' },
      priority: {
        description: 'Priority of the idp-egress rule collection group in the policy (unique per policy; lower is processed first)',
        type: 'number',
        default: PRIORITY.group,
        validation: [{ condition: `\${var.priority >= ${PRIORITY.min} && var.priority <= ${PRIORITY.max}}`, error_message: `A rule collection group priority is from ${PRIORITY.min} to ${PRIORITY.max}.` }],
      },
    },
    resource: {
      azurerm_firewall_policy_rule_collection_group: {
        idp_egress: {
          name: 'idp-egress',
          firewall_policy_id: '${var.firewall_policy_id}',
          priority: '${var.priority}',
          application_rule_collection: [
            {
              name: 'idp-egress-allowlist',
              priority: PRIORITY.collection,
              action: 'Allow',
              rule: azureRules(ctx).map((r) => ({
                name: r.name,
                source_addresses: '${var.source_addresses}',
                protocols: [{ type: 'Https', port: r.port }],
                destination_fqdns: r.fqdns,
              })),
            },
          ],
        },
      },
    },
  };
  return `${JSON.stringify(tf, null, 2)}\n`;
}
