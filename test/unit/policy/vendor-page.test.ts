// `packs diff`: a saved vendor page against the packs. Identical copies (text, HTML, HTML with its
// markup reshuffled) compare equal; a row added, removed or changed is named, under its provider.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { diffPacks, vendorRows } from '../../../src/policy/vendor-page.js';

const TEXT = readFileSync(new URL('../../fixtures/user-sync-endpoints.txt', import.meta.url), 'utf8');
const HTML = readFileSync(new URL('../../fixtures/user-sync-endpoints.html', import.meta.url), 'utf8');

async function packsDiff(page: string, ...flags: string[]) {
  const cwd = mkdtempSync(join(tmpdir(), 'idp-egress-packs-diff-'));
  writeFileSync(join(cwd, 'page'), page);
  let out = '';
  let err = '';
  const status = await runCli(['packs', 'diff', ...flags, 'page'], { out: (t) => (out += t), err: (t) => (err += t), cwd });
  return { status, out, err };
}

/** One table row of the HTML copy, as the fixture writes it. */
const htmlRow = (url: string, reason: string) => `<tr><td class="confluenceTd"><p><code>${url}</code></p></td><td class="confluenceTd"><p>${reason}</p></td></tr>`;

describe('packs diff', () => {
  it('finds the copies in test/fixtures identical to the packs, as text and as HTML', async () => {
    expect(vendorRows(HTML)).toEqual(vendorRows(TEXT));
    expect(vendorRows(TEXT)).toHaveLength(33);
    for (const page of [TEXT, HTML]) {
      const r = await packsDiff(page);
      expect(r.status).toBe(0);
      expect(r.out).toContain('Okta (okta.yaml): identical');
      expect(r.out).toContain("the page's 33 rows are the packs' documented entries");
    }
  });

  it('reads a page whose markup was reshuffled without a change as identical', async () => {
    const reshuffled = HTML
      // Cells as divs and spans, URLs split across inline tags, braces as entities, th as td.
      .replace(/<p><code>(https:\/\/[^<]*)<\/code><\/p>/g, (_, url: string) => {
        const [head, ...rest] = url.split('/{');
        return `<div class="cell"><span>${head}</span>${rest.length ? `<span>/&#123;${rest.join('/&#x7B;').replace(/}/g, '&#125;')}</span>` : ''}</div>`;
      })
      .replace(/<th class="confluenceTh"><p>(URL|Reason)<\/p><\/th>/g, '<td><strong>$1</strong></td>')
      .replace(/<tbody>|<\/tbody>/g, '')
      .replace(/<td class="confluenceTd"><p>/g, '<td data-x="1">\n      <p>\n        ')
      .replace(/<h2 id="([^"]*)">/g, '<h3 class="heading" id="$1"><a name="x"></a>')
      .replace(/<\/h2>/g, '</h3>');
    expect(reshuffled).not.toEqual(HTML);
    expect(vendorRows(reshuffled)).toEqual(vendorRows(TEXT));
    expect((await packsDiff(reshuffled)).status).toBe(0);
  });

  it('names a row added, one removed and one changed, each under its provider, and exits 1', async () => {
    const edited = HTML
      .replace(htmlRow('https://{oktaDomain}/api/v1/groups', 'Fetch all groups (required for processing the group names if required groups are configured)'), (row) => `${row}\n${htmlRow('https://{oktaDomain}/api/v1/logs', 'Fetch the system log')}`)
      .replace(htmlRow('https://{baseUrl}/admin/realms/{realm}/groups/{groupId}/members', 'Fetch members of a specific group'), '')
      .replace('<p>Fetch the assigned manager of a specific user</p>', '<p>Fetch the manager of a user</p>')
      .replace('https://{baseUrl}/api/v1/roles', 'https://{baseUrl}/api/2/roles');
    const r = await packsDiff(edited);
    expect(r.status).toBe(1);
    expect(r.out).toContain('Okta (okta.yaml): 1 added, 0 removed, 0 changed\n  + https://{oktaDomain}/api/v1/logs  "Fetch the system log"');
    expect(r.out).toContain('Keycloak (keycloak.yaml): 0 added, 1 removed, 0 changed\n  - keycloak.groups.members: https://{baseUrl}/admin/realms/{realm}/groups/{groupId}/members  "Fetch members of a specific group"');
    expect(r.out).toContain(
      'Microsoft Entra ID (entra-id.yaml): 0 added, 0 removed, 1 changed\n  ~ graph.users.manager: https://graph.microsoft.com/{apiVersion}/users/{userid}/manager  "Fetch the manager of a user"\n      the pack has reason "Fetch the assigned manager of a specific user"',
    );
    expect(r.out).toContain('OneLogin (onelogin.yaml): 0 added, 0 removed, 1 changed\n  ~ onelogin.roles.list: https://{baseUrl}/api/2/roles  "Fetch all roles (required for using roles as group names)"\n      the pack has URL https://{baseUrl}/api/v1/roles');
    expect(r.out).toContain('Google Cloud Identity (google.yaml): identical');
    const json = JSON.parse((await packsDiff(edited, '--json')).out) as ReturnType<typeof diffPacks>;
    expect(json.identical).toBe(false);
    expect(json.sections.find((s) => s.provider === 'okta')!.added).toEqual([{ url: 'https://{oktaDomain}/api/v1/logs', reason: 'Fetch the system log' }]);
  });

  it('drops scripts, styles and comments, closed or not, without reading them as rows', () => {
    const table = (url: string) => `<h2>Okta</h2><table><tr><th>URL</th><th>Reason</th></tr><tr><td>${url}</td><td>Fetching information for all users</td></tr></table>`;
    const page = `<html><body><!-- ${table('https://commented.example/x')} -->${table('https://{oktaDomain}/api/v1/users')}<SCRIPT type="x">${table('https://script.example/x')}</script ><style>p{}</style>${'<script>'.repeat(3)}${table('https://after-an-open-script.example/x')}</body></html>`;
    expect(vendorRows(page)).toEqual([{ section: 'Okta', url: 'https://{oktaDomain}/api/v1/users', reason: 'Fetching information for all users' }]);
  });

  it('reports a heading no pack follows as a new provider', async () => {
    const page = `${TEXT}\nJumpCloud\n\nURL\n\nReason\n\nhttps://console.jumpcloud.com/api/systemusers\n\nFetching information for all users\n`;
    const diff = diffPacks(loadPacks(), vendorRows(page));
    expect(diff.sections.find((s) => s.section === 'JumpCloud')).toEqual({
      section: 'JumpCloud',
      provider: undefined,
      added: [{ url: 'https://console.jumpcloud.com/api/systemusers', reason: 'Fetching information for all users' }],
      removed: [],
      changed: [],
    });
    expect((await packsDiff(page)).out).toContain('JumpCloud (no pack follows this heading: a new provider?): 1 added');
  });

  it('exits 2 with a reason when the file is not the endpoints page, or is missing', async () => {
    const other = await packsDiff('<html><body><h1>Release notes</h1><p>https://example.com/</p></body></html>');
    expect(other.status).toBe(2);
    expect(other.err).toContain('has no endpoint table');
    let err = '';
    const status = await runCli(['packs', 'diff', 'no-such-page.html'], { out: () => undefined, err: (t) => (err += t), cwd: tmpdir() });
    expect(status).toBe(2);
    expect(err).toMatch(/cannot read no-such-page\.html: ENOENT/);
  });
});
