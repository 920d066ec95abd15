import { describe, expect, it } from 'vitest';
import type { DenyCode } from '../../../src/core/errors.js';
import { decide } from '../../../src/policy/decide.js';
import { BOUND_SITE, judge, policyFrom, TENANT } from '../../support/policy.js';

const unbound = policyFrom('version: 1\n');
const bound = policyFrom(BOUND_SITE);
// The embedded default leaves Keycloak off (no base URL); this one binds only Keycloak's host.
const keycloakNoAuth = policyFrom('providers:\n  keycloak:\n    baseUrl: https://kc.example.net:8443\n');

const G = 'https://graph.microsoft.com';
const LOGIN = 'https://login.microsoftonline.com';
const DIR = 'https://www.googleapis.com/admin/directory/v1';
const KC = 'https://sso.example.org/auth';
const OKTA = 'https://acme.okta.com';
const OL = 'https://acme.onelogin.com';
const GUEST = 'alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com';

type AllowCase = readonly [name: string, method: string, url: string, endpoint: string];

/** Realistic calls that both an unbound and a bound site allow. */
const ALLOWED_EVERYWHERE: readonly AllowCase[] = [
  ['Entra token for the tenant GUID', 'POST', `${LOGIN}/${TENANT}/oauth2/v2.0/token`, 'entra.token'],
  ['Entra token for the verified domain, any case', 'POST', `${LOGIN}/Contoso.onmicrosoft.com/oauth2/v2.0/token`, 'entra.token'],
  ['Graph users with $select and $top', 'GET', `${G}/v1.0/users?$select=id,userPrincipalName,mail&$top=999`, 'graph.users.list'],
  ['Graph users next page with $skiptoken', 'GET', `${G}/v1.0/users?$top=999&$skiptoken=X%274453707402000100000017%27`, 'graph.users.list'],
  ['Graph users with percent-encoded %24top', 'GET', `${G}/beta/users?%24top=999&%24count=true`, 'graph.users.list'],
  ['Graph users with $filter', 'GET', `${G}/v1.0/users?$filter=accountEnabled%20eq%20true`, 'graph.users.list'],
  ['Graph user by GUID', 'GET', `${G}/v1.0/users/6e7b768e-07e2-4810-8459-485f84f8f204?$select=id`, 'graph.users.get'],
  ['Graph guest user by UPN with %23EXT%23', 'GET', `${G}/v1.0/users/${GUEST}`, 'graph.users.get'],
  ['Graph manager', 'GET', `${G}/v1.0/users/${GUEST}/manager?$select=id,displayName`, 'graph.users.manager'],
  ['Graph memberOf', 'GET', `${G}/beta/users/u1/memberOf?$top=999`, 'graph.users.memberOf'],
  ['Graph memberOf cast to groups', 'GET', `${G}/v1.0/users/u1/memberOf/microsoft.graph.group?$count=true`, 'graph.users.memberOf.cast'],
  ['Graph photos', 'GET', `${G}/v1.0/users/u1/photos`, 'graph.users.photos'],
  ['Graph photo metadata', 'GET', `${G}/v1.0/users/u1/photo`, 'graph.users.photo.content'],
  ['Graph photo bytes', 'GET', `${G}/v1.0/users/u1/photo/$value`, 'graph.users.photo.content'],
  ['Graph photo bytes with %24value', 'GET', `${G}/v1.0/users/u1/photo/%24value`, 'graph.users.photo.content'],
  ['Graph photo size', 'GET', `${G}/beta/users/u1/photos/48x48`, 'graph.users.photo.content'],
  ['Graph photo size bytes', 'GET', `${G}/beta/users/u1/photos/648x648/$value`, 'graph.users.photo.content'],
  ['Graph transitiveMemberOf', 'GET', `${G}/v1.0/users/u1/transitiveMemberOf?$top=999`, 'graph.users.transitiveMemberOf'],
  ['Graph transitiveMemberOf cast', 'GET', `${G}/v1.0/users/u1/transitiveMemberOf/microsoft.graph.group?$count=true`, 'graph.users.transitiveMemberOf.cast'],
  ['Graph groups with displayName filter', 'GET', `${G}/v1.0/groups?$filter=displayName%20eq%20%27Jira%27&$select=id`, 'graph.groups.list'],
  ['Graph group members', 'GET', `${G}/v1.0/groups/g1/members?$top=999`, 'graph.groups.members'],
  ['Graph group members cast to users', 'GET', `${G}/v1.0/groups/g1/members/microsoft.graph.user`, 'graph.groups.members.cast'],
  ['Graph transitive members', 'GET', `${G}/beta/groups/g1/transitiveMembers?$skiptoken=abc`, 'graph.groups.transitiveMembers'],
  ['Graph transitive members cast', 'GET', `${G}/beta/groups/g1/transitiveMembers/microsoft.graph.group`, 'graph.groups.transitiveMembers.cast'],
  ['Graph host with a trailing dot and capitals', 'GET', 'https://GRAPH.Microsoft.com./v1.0/users', 'graph.users.list'],
  ['Graph host with explicit :443', 'GET', `https://graph.microsoft.com:443/v1.0/users`, 'graph.users.list'],
  ['Google authorize', 'GET', 'https://accounts.google.com/o/oauth2/v2/auth?client_id=x&response_type=code&access_type=offline', 'google.authorize'],
  ['Google token', 'POST', 'https://www.googleapis.com/oauth2/v4/token', 'google.token'],
  ['Google token at oauth2.googleapis.com', 'POST', 'https://oauth2.googleapis.com/token', 'google.token.oauth2-host'],
  ['Google users with my_customer', 'GET', `${DIR}/users?customer=my_customer&maxResults=500&projection=full&pageToken=abc`, 'google.users.list'],
  ['Google user by e-mail (%40)', 'GET', `${DIR}/users/alice%40example.com?projection=full`, 'google.users.get'],
  ['Google user photo', 'GET', `${DIR}/users/alice@example.com/photos/thumbnail`, 'google.users.photo'],
  ['Google groups of a user', 'GET', `${DIR}/groups?userKey=alice%40example.com&maxResults=200`, 'google.groups.list'],
  ['Google groups at admin.googleapis.com', 'GET', `https://admin.googleapis.com/admin/directory/v1/groups?customer=my_customer`, 'google.admin-host.groups.list'],
  ['Google users at admin.googleapis.com', 'GET', `https://admin.googleapis.com/admin/directory/v1/users?customer=my_customer`, 'google.admin-host.users.list'],
  ['Google user at admin.googleapis.com', 'GET', `https://admin.googleapis.com/admin/directory/v1/users/alice%40example.com`, 'google.admin-host.users.get'],
  ['Google photo at admin.googleapis.com', 'GET', `https://admin.googleapis.com/admin/directory/v1/users/1234/photos/thumbnail`, 'google.admin-host.users.photo'],
  ['Okta users with limit', 'GET', `${OKTA}/api/v1/users?limit=200`, 'okta.users.list'],
  ['Okta users next page with after', 'GET', `${OKTA}/api/v1/users?limit=200&after=00ub0oNGTSWTBKOLGLNR`, 'okta.users.list'],
  ['Okta user by login', 'GET', `${OKTA}/api/v1/users/alice%40example.com`, 'okta.users.get'],
  ['Okta user groups', 'GET', `${OKTA}/api/v1/users/00ub0oNGTSWTBKOLGLNR/groups`, 'okta.users.groups'],
  ['Okta groups with filter', 'GET', `${OKTA}/api/v1/groups?filter=type%20eq%20%22OKTA_GROUP%22&limit=200`, 'okta.groups.list'],
  ['Okta group users', 'GET', `${OKTA}/api/v1/groups/00g1emaKYZTWRYYRRTSK/users?limit=1000&after=x`, 'okta.groups.users'],
  ['OneLogin token', 'POST', `${OL}/auth/oauth2/v2/token`, 'onelogin.token'],
  ['OneLogin users (vendor path)', 'GET', `${OL}/api/v1/users`, 'onelogin.users.list'],
  ['OneLogin user (vendor path)', 'GET', `${OL}/api/v1/users/123`, 'onelogin.users.get'],
  ['OneLogin user groups (vendor path)', 'GET', `${OL}/api/v1/users/123/groups`, 'onelogin.users.groups'],
  ['OneLogin groups (vendor path)', 'GET', `${OL}/api/v1/groups`, 'onelogin.groups.list'],
  ['OneLogin roles (vendor path)', 'GET', `${OL}/api/v1/roles`, 'onelogin.roles.list'],
  ['OneLogin /api/1/users with cursor', 'GET', `${OL}/api/1/users?after_cursor=abc&limit=50`, 'onelogin.numbered.users.list'],
  ['OneLogin /api/2/users', 'GET', `${OL}/api/2/users?fields=id,email`, 'onelogin.numbered.users.list'],
  ['OneLogin /api/2/users/{id}', 'GET', `${OL}/api/2/users/123`, 'onelogin.numbered.users.get'],
  ['OneLogin /api/1/users/{id}/roles', 'GET', `${OL}/api/1/users/123/roles`, 'onelogin.numbered.users.roles'],
  ['OneLogin /api/1/groups', 'GET', `${OL}/api/1/groups`, 'onelogin.numbered.groups.list'],
  ['OneLogin /api/2/roles', 'GET', `${OL}/api/2/roles`, 'onelogin.numbered.roles.list'],
  ['OneLogin rate limit', 'GET', `${OL}/auth/rate_limit`, 'onelogin.rate-limit'],
];

const ALLOWED_BOUND: readonly AllowCase[] = [
  ['Keycloak token under /auth', 'POST', `${KC}/realms/staff/protocol/openid-connect/token`, 'keycloak.token'],
  ['Keycloak users with first and max', 'GET', `${KC}/admin/realms/staff/users?first=0&max=100&briefRepresentation=false`, 'keycloak.users.list'],
  ['Keycloak user', 'GET', `${KC}/admin/realms/staff/users/5f1c1f9a-2f6e-4c5e-9d1b-0c7f7f5a1e11`, 'keycloak.users.get'],
  ['Keycloak user groups', 'GET', `${KC}/admin/realms/staff/users/u1/groups?first=0&max=100`, 'keycloak.users.groups'],
  ['Keycloak groups', 'GET', `${KC}/admin/realms/staff/groups?first=0&max=100`, 'keycloak.groups.list'],
  ['Keycloak group members', 'GET', `${KC}/admin/realms/staff/groups/g1/members?first=100&max=100`, 'keycloak.groups.members'],
  ['Keycloak >= 23 sub-groups', 'GET', `${KC}/admin/realms/staff/groups/g1/children?first=0&max=100&briefRepresentation=false`, 'keycloak.groups.children'],
  ['Keycloak user count', 'GET', `${KC}/admin/realms/staff/users/count?enabled=true`, 'keycloak.users.count'],
  ['Google users bound to the customer ID', 'GET', `${DIR}/users?customer=C03az79cb&maxResults=500`, 'google.users.list'],
  ['Google users bound to the domain', 'GET', `${DIR}/users?domain=example.com&pageToken=x`, 'google.users.list'],
];

const ALLOWED_UNBOUND: readonly AllowCase[] = [
  ['any tenant GUID when the tenant is not pinned', 'POST', `${LOGIN}/99999999-8888-7777-6666-555555555555/oauth2/v2.0/token`, 'entra.token'],
  ['any Okta org when the org is not pinned', 'GET', 'https://other.okta.com/api/v1/users', 'okta.users.list'],
  ['an oktapreview org', 'GET', 'https://acme.oktapreview.com/api/v1/groups', 'okta.groups.list'],
  ['the shared OneLogin US shard', 'GET', 'https://api.us.onelogin.com/api/2/users', 'onelogin.numbered.users.list'],
  ['Google users for any customer when unbound', 'GET', `${DIR}/users?customer=C0other`, 'google.users.list'],
];

describe('decide: allowed calls', () => {
  it.each([...ALLOWED_EVERYWHERE, ...ALLOWED_UNBOUND])('unbound site: %s', (_name, method, url, endpoint) => {
    const d = judge(unbound, method, url);
    expect(d, d.reason).toMatchObject({ action: 'allow', code: 'ALLOWED', endpoint });
  });

  it.each([...ALLOWED_EVERYWHERE, ...ALLOWED_BOUND])('bound site: %s', (_name, method, url, endpoint) => {
    const d = judge(bound, method, url);
    expect(d, d.reason).toMatchObject({ action: 'allow', code: 'ALLOWED', endpoint });
  });

  it('Keycloak >= 17 without /auth, on its own port', () => {
    expect(judge(keycloakNoAuth, 'GET', 'https://kc.example.net:8443/admin/realms/any/users?max=100')).toMatchObject({ action: 'allow', endpoint: 'keycloak.users.list' });
  });

  it('returns the provider, kind, template and reason of the endpoint', () => {
    expect(judge(bound, 'POST', `${LOGIN}/${TENANT}/oauth2/v2.0/token`)).toEqual({
      action: 'allow',
      code: 'ALLOWED',
      reason: 'entra.token: Request and refresh the access token',
      mode: 'enforce',
      host: 'login.microsoftonline.com',
      port: 443,
      provider: 'entra-id',
      tls: 'intercept',
      endpoint: 'entra.token',
      kind: 'token',
      template: 'https://login.microsoftonline.com/{directoryTenantId}/oauth2/v2.0/token',
    });
  });
});

type DenyCase = readonly [name: string, method: string, url: string, code: DenyCode];

const DENIED_EVERYWHERE: readonly DenyCase[] = [
  // Hosts
  ['look-alike suffix host', 'GET', 'https://graph.microsoft.com.evil.test/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['look-alike prefix host', 'GET', 'https://evilgraph.microsoft.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['sibling Microsoft host', 'GET', 'https://outlook.office.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['login host alias not in the vendor table', 'POST', `https://login.windows.net/${TENANT}/oauth2/v2.0/token`, 'HOST_NOT_ALLOWED'],
  ['two trailing dots', 'GET', 'https://graph.microsoft.com../v1.0/users', 'HOST_NOT_ALLOWED'],
  ['IDNA look-alike with Cyrillic o', 'GET', 'https://graph.micrоsoft.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['IDNA look-alike in punycode', 'GET', 'https://graph.xn--micrsoft-7fg.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['host with an underscore', 'GET', 'https://graph_microsoft.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['host with a percent-encoded letter', 'GET', 'https://gr%61ph.microsoft.com/v1.0/users', 'HOST_NOT_ALLOWED'],
  ['Okta apex domain', 'GET', 'https://okta.com/api/v1/users', 'HOST_NOT_ALLOWED'],
  ['Okta two labels deep', 'GET', 'https://a.b.okta.com/api/v1/users', 'HOST_NOT_ALLOWED'],
  ['Okta look-alike', 'GET', 'https://acme.okta.com.evil.test/api/v1/users', 'HOST_NOT_ALLOWED'],
  ['Google content host (thumbnailPhotoUrl)', 'GET', 'https://lh3.googleusercontent.com/a/photo', 'HOST_NOT_ALLOWED'],
  // Userinfo and IP literals
  ['userinfo before the host', 'GET', 'https://user:pw@graph.microsoft.com/v1.0/users', 'USERINFO_NOT_ALLOWED'],
  ['userinfo that looks like the host', 'GET', 'https://graph.microsoft.com@evil.test/v1.0/users', 'USERINFO_NOT_ALLOWED'],
  ['dotted IPv4', 'GET', 'https://20.190.151.7/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['decimal IPv4', 'GET', 'https://2130706433/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['hex IPv4', 'GET', 'https://0x7f000001/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['short dotted IPv4', 'GET', 'https://127.1/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['octal IPv4', 'GET', 'https://0177.0.0.1/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['IPv4 with a trailing dot', 'GET', 'https://10.0.0.1./v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['IPv6 loopback', 'GET', 'https://[::1]/v1.0/users', 'IP_LITERAL_NOT_ALLOWED'],
  ['IPv4-mapped IPv6', 'GET', 'https://[::ffff:169.254.169.254]/latest/meta-data', 'IP_LITERAL_NOT_ALLOWED'],
  ['cloud metadata address', 'GET', 'https://169.254.169.254/latest/meta-data', 'IP_LITERAL_NOT_ALLOWED'],
  // Scheme and port
  ['plain http', 'GET', 'http://graph.microsoft.com/v1.0/users', 'SCHEME_NOT_ALLOWED'],
  ['plain http with :443', 'GET', 'http://graph.microsoft.com:443/v1.0/users', 'SCHEME_NOT_ALLOWED'],
  ['ftp scheme', 'GET', 'ftp://graph.microsoft.com/v1.0/users', 'SCHEME_NOT_ALLOWED'],
  ['wrong port', 'GET', 'https://graph.microsoft.com:8443/v1.0/users', 'PORT_NOT_ALLOWED'],
  ['port 80 over https', 'GET', 'https://graph.microsoft.com:80/v1.0/users', 'PORT_NOT_ALLOWED'],
  ['port out of range', 'GET', 'https://graph.microsoft.com:70000/v1.0/users', 'MALFORMED_REQUEST'],
  // Methods
  ['DELETE a user', 'DELETE', `${G}/v1.0/users/u1`, 'METHOD_NOT_ALLOWED'],
  ['PATCH a user', 'PATCH', `${G}/v1.0/users/u1`, 'METHOD_NOT_ALLOWED'],
  ['POST a new user', 'POST', `${G}/v1.0/users`, 'METHOD_NOT_ALLOWED'],
  ['POST to group members', 'POST', `${G}/v1.0/groups/g1/members`, 'METHOD_NOT_ALLOWED'],
  ['GET the token endpoint', 'GET', `${LOGIN}/${TENANT}/oauth2/v2.0/token`, 'METHOD_NOT_ALLOWED'],
  ['lower-case get', 'get', `${G}/v1.0/users`, 'METHOD_NOT_ALLOWED'],
  ['PUT an Okta user', 'PUT', `${OKTA}/api/v1/users/u1`, 'METHOD_NOT_ALLOWED'],
  ['DELETE an Okta group (no such endpoint)', 'DELETE', `${OKTA}/api/v1/groups/g1`, 'PATH_NOT_ALLOWED'],
  ['DELETE Okta group members', 'DELETE', `${OKTA}/api/v1/groups/g1/users`, 'METHOD_NOT_ALLOWED'],
  ['method with a space', 'GE T', `${G}/v1.0/users`, 'MALFORMED_REQUEST'],
  // Tenants
  ['common tenant', 'POST', `${LOGIN}/common/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['organizations tenant', 'POST', `${LOGIN}/organizations/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['consumers tenant', 'POST', `${LOGIN}/consumers/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['Common in capitals', 'POST', `${LOGIN}/Common/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['tenant that is neither GUID nor domain', 'POST', `${LOGIN}/contoso/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  // Paths
  ['unknown API version', 'GET', `${G}/v2.0/users`, 'PATH_NOT_ALLOWED'],
  ['API version in capitals', 'GET', `${G}/V1.0/users`, 'PATH_NOT_ALLOWED'],
  ['Graph mail (not in the pack)', 'GET', `${G}/v1.0/users/u1/messages`, 'PATH_NOT_ALLOWED'],
  ['Graph drive (exfiltration path)', 'GET', `${G}/v1.0/users/u1/drive/root/children`, 'PATH_NOT_ALLOWED'],
  ['Graph $batch', 'POST', `${G}/v1.0/$batch`, 'PATH_NOT_ALLOWED'],
  ['Graph users delta', 'GET', `${G}/v1.0/users/delta/extra`, 'PATH_NOT_ALLOWED'],
  ['Graph extra segment after manager', 'GET', `${G}/v1.0/users/u1/manager/extra`, 'PATH_NOT_ALLOWED'],
  ['Graph photo of an unknown size', 'GET', `${G}/v1.0/users/u1/photos/1000x1000/$value`, 'PATH_NOT_ALLOWED'],
  ['Graph missing segment', 'GET', `${G}/users`, 'PATH_NOT_ALLOWED'],
  ['Graph root', 'GET', `${G}/`, 'AMBIGUOUS_PATH'],
  ['Graph version only', 'GET', `${G}/v1.0`, 'PATH_NOT_ALLOWED'],
  ['Google Drive on the shared host', 'GET', 'https://www.googleapis.com/drive/v3/files', 'PATH_NOT_ALLOWED'],
  ['Google Drive upload on the shared host', 'POST', 'https://www.googleapis.com/upload/drive/v3/files?uploadType=media', 'PATH_NOT_ALLOWED'],
  ['Google Gmail on the shared host', 'GET', 'https://www.googleapis.com/gmail/v1/users/me/messages', 'PATH_NOT_ALLOWED'],
  ['Google directory members (not in the pack)', 'GET', `${DIR}/groups/g1/members`, 'PATH_NOT_ALLOWED'],
  ['Google legacy token endpoint on accounts host', 'POST', 'https://accounts.google.com/o/oauth2/token', 'PATH_NOT_ALLOWED'],
  ['Okta apps (not in the pack)', 'GET', `${OKTA}/api/v1/apps`, 'PATH_NOT_ALLOWED'],
  ['Okta OAuth token (SSWS is used instead)', 'POST', `${OKTA}/oauth2/v1/token`, 'PATH_NOT_ALLOWED'],
  ['OneLogin API version 3', 'GET', `${OL}/api/3/users`, 'PATH_NOT_ALLOWED'],
  ['OneLogin revoke', 'POST', `${OL}/auth/oauth2/revoke`, 'PATH_NOT_ALLOWED'],
  // Ambiguous forms: denied, never normalised into an allowed path
  ['raw dot-dot segment', 'GET', `${G}/v1.0/users/u1/../../groups`, 'AMBIGUOUS_PATH'],
  ['raw dot segment', 'GET', `${G}/v1.0/./users`, 'AMBIGUOUS_PATH'],
  ['encoded dot-dot %2e%2e', 'GET', `${G}/v1.0/users/%2e%2e/groups`, 'AMBIGUOUS_PATH'],
  ['mixed encoded dot-dot .%2E', 'GET', `${G}/v1.0/users/.%2E/groups`, 'AMBIGUOUS_PATH'],
  ['encoded slash %2F in a user id', 'GET', `${G}/v1.0/users/u1%2Fmessages`, 'AMBIGUOUS_PATH'],
  ['encoded slash %2f lower case', 'GET', `${G}/v1.0/users/u1%2fmessages`, 'AMBIGUOUS_PATH'],
  ['encoded backslash %5C', 'GET', `${G}/v1.0/users/u1%5Cmessages`, 'AMBIGUOUS_PATH'],
  ['raw backslash', 'GET', `${G}/v1.0/users\\u1`, 'AMBIGUOUS_PATH'],
  ['empty segment //', 'GET', `${G}/v1.0//users`, 'AMBIGUOUS_PATH'],
  ['leading //', 'GET', `${G}//v1.0/users`, 'AMBIGUOUS_PATH'],
  ['trailing slash', 'GET', `${G}/v1.0/users/`, 'AMBIGUOUS_PATH'],
  ['encoded NUL', 'GET', `${G}/v1.0/users/u1%00`, 'AMBIGUOUS_PATH'],
  ['encoded newline', 'GET', `${G}/v1.0/users/u1%0d%0aX-Injected:%201`, 'AMBIGUOUS_PATH'],
  ['double-encoded dot-dot %252e', 'GET', `${G}/v1.0/users/%252e%252e/groups`, 'AMBIGUOUS_PATH'],
  ['double-encoded slash %252F', 'GET', `${G}/v1.0/users/u1%252Fmessages`, 'AMBIGUOUS_PATH'],
  ['path parameter ;jsessionid', 'GET', `${G}/v1.0/users;jsessionid=1`, 'AMBIGUOUS_PATH'],
  ['encoded ; %3B', 'GET', `${G}/v1.0/users%3Bx`, 'AMBIGUOUS_PATH'],
  ['invalid percent-encoding', 'GET', `${G}/v1.0/users/%zz`, 'AMBIGUOUS_PATH'],
  ['truncated percent-encoding', 'GET', `${G}/v1.0/users/u%4`, 'AMBIGUOUS_PATH'],
  ['overlong UTF-8 for "/"', 'GET', `${G}/v1.0/users/u1%c0%afmessages`, 'AMBIGUOUS_PATH'],
  ['raw NUL', 'GET', `${G}/v1.0/users/u1\u0000`, 'MALFORMED_REQUEST'],
  ['raw space in the path', 'GET', `${G}/v1.0/users/a b`, 'MALFORMED_REQUEST'],
  ['raw non-ASCII in the path', 'GET', `${G}/v1.0/users/jürgen`, 'MALFORMED_REQUEST'],
  ['raw control character in the query', 'GET', `${G}/v1.0/users?$top=1\u0001`, 'MALFORMED_REQUEST'],
  ['over-long path', 'GET', `${G}/v1.0/users/${'a'.repeat(9000)}`, 'TARGET_TOO_LONG'],
  ['over-long query', 'GET', `${G}/v1.0/users?$filter=${'a'.repeat(9000)}`, 'TARGET_TOO_LONG'],
  ['not a URL', 'GET', 'graph.microsoft.com/v1.0/users', 'MALFORMED_REQUEST'],
  ['backslash in the authority', 'GET', 'https://graph.microsoft.com\\@evil.test/v1.0/users', 'USERINFO_NOT_ALLOWED'],
];

const DENIED_BOUND: readonly DenyCase[] = [
  ['path parameter ..;', 'GET', `${KC}/admin/realms/staff/..;/master/users`, 'AMBIGUOUS_PATH'],
  ['Keycloak management port host', 'GET', 'https://sso.example.org:9000/health', 'PORT_NOT_ALLOWED'],
  ['another tenant GUID', 'POST', `${LOGIN}/99999999-8888-7777-6666-555555555555/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['another tenant domain', 'POST', `${LOGIN}/fabrikam.onmicrosoft.com/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['common on a pinned site', 'POST', `${LOGIN}/common/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'],
  ['another Okta org', 'GET', 'https://other.okta.com/api/v1/users', 'HOST_NOT_ALLOWED'],
  ['an oktapreview org of the same name', 'GET', 'https://acme.oktapreview.com/api/v1/users', 'HOST_NOT_ALLOWED'],
  ['another Keycloak realm', 'GET', `${KC}/admin/realms/master/users`, 'TENANT_NOT_ALLOWED'],
  ['another Keycloak realm token', 'POST', `${KC}/realms/master/protocol/openid-connect/token`, 'TENANT_NOT_ALLOWED'],
  ['Keycloak without the configured /auth prefix', 'GET', 'https://sso.example.org/admin/realms/staff/users', 'PATH_NOT_ALLOWED'],
  ['Keycloak on another host', 'GET', 'https://kc.evil.test/auth/admin/realms/staff/users', 'HOST_NOT_ALLOWED'],
  ['Keycloak admin write', 'PUT', `${KC}/admin/realms/staff/users/u1`, 'METHOD_NOT_ALLOWED'],
  ['OneLogin shared shard when a subdomain is pinned', 'GET', 'https://api.us.onelogin.com/api/2/users', 'HOST_NOT_ALLOWED'],
  ['another OneLogin subdomain', 'GET', 'https://other.onelogin.com/api/2/users', 'HOST_NOT_ALLOWED'],
  ['Google users for another customer', 'GET', `${DIR}/users?customer=C0other&maxResults=500`, 'QUERY_NOT_ALLOWED'],
  ['Google users for another domain', 'GET', `${DIR}/users?domain=evil.test`, 'QUERY_NOT_ALLOWED'],
  ['Google users with no customer or domain', 'GET', `${DIR}/users?maxResults=500`, 'QUERY_NOT_ALLOWED'],
  ['Google groups for another customer', 'GET', `${DIR}/groups?customer=C0other`, 'QUERY_NOT_ALLOWED'],
  // Parameter pollution: a provider may read either occurrence, so every one must name this site.
  ['Google users for another customer, then ours', 'GET', `${DIR}/users?customer=C0other&customer=C03az79cb`, 'QUERY_NOT_ALLOWED'],
  ['Google users for ours, then another customer', 'GET', `${DIR}/users?customer=C03az79cb&customer=C0other`, 'QUERY_NOT_ALLOWED'],
  ['Google users for my_customer and another domain', 'GET', `${DIR}/users?customer=my_customer&domain=other.example`, 'QUERY_NOT_ALLOWED'],
  ['Google users for our domain and an encoded other one', 'GET', `${DIR}/users?domain=example.com&%64omain=evil.test`, 'QUERY_NOT_ALLOWED'],
];

describe('decide: denied calls', () => {
  it('has at least 60 named deny cases', () => {
    expect(DENIED_EVERYWHERE.length + DENIED_BOUND.length).toBeGreaterThanOrEqual(60);
  });

  it.each(DENIED_EVERYWHERE)('unbound site: %s', (_name, method, url, code) => {
    const d = judge(unbound, method, url);
    expect(d, d.reason).toMatchObject({ action: 'deny', code });
    expect(d.reason.length).toBeGreaterThan(10);
  });

  it.each([...DENIED_EVERYWHERE, ...DENIED_BOUND])('bound site: %s', (_name, method, url, code) => {
    const d = judge(bound, method, url);
    expect(d, d.reason).toMatchObject({ action: 'deny', code });
  });
});

describe('decide: explanations', () => {
  it('names the closest rule for a path outside the pack', () => {
    const d = judge(bound, 'GET', `${G}/v1.0/users/u1/drive`);
    expect(d.reason).toBe('no entra-id endpoint continues /v1.0/users/u1 with "drive"');
    expect(d.closest).toEqual({ endpoint: 'graph.users.get', methods: ['GET'], template: `${G}/{apiVersion}/users/{userid}` });
  });

  it('says which tenant value was refused and what is expected', () => {
    const d = judge(bound, 'POST', `${LOGIN}/common/oauth2/v2.0/token`);
    expect(d.reason).toBe(
      'path segment 1 "common" is not an allowed {directoryTenantId}: expected 11111111-2222-3333-4444-555555555555 or contoso.onmicrosoft.com (site-bound)',
    );
    expect(d.closest?.endpoint).toBe('entra.token');
  });

  it('says a host is a look-alike of an allowed one', () => {
    expect(judge(bound, 'GET', 'https://evilgraph.microsoft.com/v1.0/users').reason).toBe(
      'no enabled provider has endpoints on evilgraph.microsoft.com (it is not graph.microsoft.com)',
    );
  });

  it('says a provider is off rather than only that the host is unknown', () => {
    const entraOnly = policyFrom('providers:\n  entra-id: {}\n');
    expect(judge(entraOnly, 'GET', `${OKTA}/api/v1/users`)).toMatchObject({ code: 'HOST_NOT_ALLOWED', reason: 'acme.okta.com: Okta is off: not listed under providers in the config' });
    expect(judge(entraOnly, 'GET', 'https://example.com/').reason).toBe('no enabled provider has endpoints on example.com');
    expect(judge(unbound, 'GET', 'https://sso.example.org/realms/x/users').reason).toContain('Keycloak is off: providers.keycloak.baseUrl is not set');
  });

  it('reports the allowed methods of the matched endpoint', () => {
    expect(judge(bound, 'DELETE', `${G}/v1.0/users/u1`).reason).toBe('graph.users.get allows GET, not DELETE');
  });

  it('says what binds a Google call to the site', () => {
    expect(judge(bound, 'GET', `${DIR}/users?customer=C0other`).reason).toBe(
      'query parameter customer must be C03az79cb or my_customer (site-bound); every customer in the query must name this site',
    );
    expect(judge(bound, 'GET', `${DIR}/users?maxResults=5`).reason).toBe(
      'the query must bind the call to this site with customer=C03az79cb or my_customer (site-bound); or domain=example.com (site-bound)',
    );
  });
});

describe('decide: CONNECT, SNI and Host header', () => {
  const connect = (host: string, port = 443, extra = {}) => decide(bound, { method: 'CONNECT', scheme: 'https', host, port, ...extra });

  it('allows a CONNECT to an allowed host and port, naming the provider', () => {
    expect(connect('graph.microsoft.com')).toMatchObject({ action: 'allow', provider: 'entra-id', tls: 'intercept', host: 'graph.microsoft.com', port: 443 });
  });

  it('denies a CONNECT to another host or port', () => {
    expect(connect('example.com')).toMatchObject({ action: 'deny', code: 'HOST_NOT_ALLOWED' });
    expect(connect('graph.microsoft.com', 22)).toMatchObject({ action: 'deny', code: 'PORT_NOT_ALLOWED' });
    expect(connect('10.0.0.5')).toMatchObject({ action: 'deny', code: 'IP_LITERAL_NOT_ALLOWED' });
  });

  it('denies a TLS server name that differs from the CONNECT host', () => {
    expect(connect('graph.microsoft.com', 443, { sni: 'evil.test' })).toMatchObject({ action: 'deny', code: 'SNI_MISMATCH' });
    expect(connect('graph.microsoft.com', 443, { sni: 'Graph.Microsoft.com.' })).toMatchObject({ action: 'allow' });
  });

  it('denies a request inside a tunnel whose Host header names another host', () => {
    const req = { method: 'GET', scheme: 'https', host: 'graph.microsoft.com', port: 443, target: '/v1.0/users' };
    expect(decide(bound, { ...req, hostHeader: 'graph.microsoft.com' })).toMatchObject({ action: 'allow' });
    expect(decide(bound, { ...req, hostHeader: 'graph.microsoft.com:443' })).toMatchObject({ action: 'allow' });
    expect(decide(bound, { ...req, hostHeader: 'www.googleapis.com' })).toMatchObject({ action: 'deny', code: 'HOST_HEADER_MISMATCH' });
    expect(decide(bound, { ...req, hostHeader: 'graph.microsoft.com:8443' })).toMatchObject({ action: 'deny', code: 'HOST_HEADER_MISMATCH' });
    expect(decide(bound, { ...req, hostHeader: 'a b' })).toMatchObject({ action: 'deny', code: 'HOST_HEADER_MISMATCH' });
  });

  it('judges an origin-form target without a leading slash as malformed', () => {
    expect(decide(bound, { method: 'GET', scheme: 'https', host: 'graph.microsoft.com', target: '*' })).toMatchObject({ code: 'MALFORMED_REQUEST' });
  });
});

describe('decide: modes', () => {
  it('reports the provider mode on allow and deny, and the global mode for unknown hosts', () => {
    const p = policyFrom('mode: observe\nproviders:\n  entra-id:\n    mode: enforce\n  okta:\n    domain: acme.okta.com\n');
    expect(judge(p, 'GET', `${G}/v1.0/users/u1/drive`)).toMatchObject({ action: 'deny', mode: 'enforce' });
    expect(judge(p, 'GET', `${OKTA}/api/v1/apps`)).toMatchObject({ action: 'deny', mode: 'observe' });
    expect(judge(p, 'GET', 'https://example.com/')).toMatchObject({ action: 'deny', mode: 'observe' });
  });
});
