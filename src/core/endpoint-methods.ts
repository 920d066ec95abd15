/**
 * What an endpoint may be and which methods it may allow. Pack endpoints read (GET) and fetch
 * tokens (POST): User Sync writes nothing to a provider, so nothing else is ever allowed by a
 * pack. A site endpoint may allow more, and anything that writes needs the site's explicit
 * acknowledgement (docs/policy.md, "Site endpoints").
 */
export const ENDPOINT_KINDS = ['token', 'authorize', 'api'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

export const PACK_METHODS = ['GET', 'POST'] as const;

/** Every method a rule can name; the order fixes each method's bit in the path tables. */
export const RULE_METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'PATCH', 'DELETE'] as const;
export type RuleMethod = (typeof RULE_METHODS)[number];

/**
 * Methods that change something at the provider: everything but GET and HEAD (RFC 9110 §9.2.1,
 * safe methods), except the POST of a token endpoint, which only asks for a token.
 */
export function writeMethods(kind: EndpointKind, methods: readonly string[]): string[] {
  return methods.filter((m) => m !== 'GET' && m !== 'HEAD' && !(kind === 'token' && m === 'POST'));
}
