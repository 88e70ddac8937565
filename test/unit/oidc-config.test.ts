/**
 * Single sign-on's pure parts: the options (whole or none, https to the issuer unless
 * loopback, the exact redirect path, the secret from a file), the groups claim to role
 * mapping, and where a sign-in may land. The options also come from the environment like
 * every server option (shared/config.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../shared/config.js';
import { ServerConfig, SERVER_OPTIONS } from '../../server/config.js';
import { oidcSettings } from '../../server/oidc/config.js';
import { groupsOf, roleFor } from '../../server/oidc/roles.js';
import { safeNext } from '../../server/oidc/routes.js';

const base = { oidcIssuer: 'https://login.example.com/tenant/v2.0', oidcClientId: 'cg', oidcRedirectUrl: 'https://guard.clinic.example/auth/oidc/callback', oidcAdminGroup: ['IT'] };
const settings = (extra: Record<string, unknown> = {}, readFile?: (p: string) => string) => oidcSettings(ServerConfig.parse({ ...base, ...extra }), readFile);
const fails = (extra: Record<string, unknown>, re: RegExp) => expect(() => settings(extra)).toThrow(re);

describe('single sign-on options', () => {
  it('is off without an issuer, and a half-set configuration names what is missing', () => {
    expect(oidcSettings(ServerConfig.parse({}))).toBeNull();
    expect(() => oidcSettings(ServerConfig.parse({ oidcClientId: 'cg' }))).toThrow(/--oidc-issuer: missing: --oidc-client-id is set/);
    fails({ oidcClientId: undefined }, /--oidc-client-id: missing/);
    fails({ oidcRedirectUrl: undefined }, /--oidc-redirect-url: missing/);
    fails({ oidcAdminGroup: undefined }, /--oidc-admin-group: missing/);
  });

  it('wants TLS to the issuer unless it is on this machine, and the exact callback path', () => {
    fails({ oidcIssuer: 'http://login.example.com' }, /--oidc-issuer: expected an https:\/\/ URL/);
    expect(settings({ oidcIssuer: 'http://127.0.0.1:4000' })!.insecure).toBe(true);
    expect(settings()!.insecure).toBe(false);
    fails({ oidcRedirectUrl: 'https://guard.clinic.example/callback' }, /--oidc-redirect-url: expected https:\/\/THIS-SERVER\/auth\/oidc\/callback exactly/);
    fails({ oidcRedirectUrl: 'https://guard.clinic.example/auth/oidc/callback?x=1' }, /exactly/);
    fails({ oidcRedirectUrl: 'http://guard.clinic.example/auth/oidc/callback' }, /--oidc-redirect-url: expected https:\/\//);
    fails({ oidcScopes: 'profile email' }, /--oidc-scopes: must include openid/);
  });

  it('reads the client secret from a file (first line), once', () => {
    expect(settings({ oidcClientSecretFile: '/run/secrets/cg' }, () => 's3cret\n')!.clientSecret).toBe('s3cret');
    expect(() => settings({ oidcClientSecretFile: '/nope' }, () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); })).toThrow(/--oidc-client-secret-file: cannot read \/nope: ENOENT/);
    fails({ oidcClientSecret: 'a', oidcClientSecretFile: '/x' }, /not both/);
    expect(settings()!.clientSecret).toBeUndefined();
  });

  it('takes every option from the environment, groups comma-separated, with defaults', () => {
    const c = resolveConfig(ServerConfig, SERVER_OPTIONS, {}, {
      CONSULTGUARD_OIDC_ISSUER: 'https://idp.example', CONSULTGUARD_OIDC_CLIENT_ID: 'cg', CONSULTGUARD_OIDC_CLIENT_SECRET: 'x',
      CONSULTGUARD_OIDC_REDIRECT_URL: 'https://guard.example/auth/oidc/callback', CONSULTGUARD_OIDC_LEAD_GROUP: 'Leads North, Leads South',
      CONSULTGUARD_OIDC_ROLES_CLAIM: 'realm_access.roles',
    });
    const s = oidcSettings(c)!;
    expect(s).toMatchObject({ clientId: 'cg', clientSecret: 'x', leadGroups: ['Leads North', 'Leads South'], adminGroups: [], rolesClaim: 'realm_access.roles', name: 'idp.example', scopes: 'openid profile email' });
  });

  it('takes them from a config file too, the command line winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-oidc-conf-'));
    const file = join(dir, 'server.yaml');
    writeFileSync(file, 'oidcIssuer: https://kc.example/realms/clinic\noidcClientId: from-file\noidcRedirectUrl: https://guard.example/auth/oidc/callback\noidcAdminGroup: [it-admins, it-oncall]\noidcRolesClaim: realm_access.roles\n');
    try {
      const c = resolveConfig(ServerConfig, SERVER_OPTIONS, { config: file, 'oidc-client-id': 'from-cli' }, {});
      expect(oidcSettings(c)).toMatchObject({ clientId: 'from-cli', adminGroups: ['it-admins', 'it-oncall'], rolesClaim: 'realm_access.roles', name: 'kc.example' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('groups claim to role', () => {
  const m = { rolesClaim: 'groups', adminGroups: ['cg-admins'], leadGroups: ['cg-leads'] };
  it('admin wins over lead; no mapped group is no role', () => {
    expect(roleFor({ groups: ['cg-leads', 'cg-admins'] }, m)).toBe('admin');
    expect(roleFor({ groups: ['cg-leads'] }, m)).toBe('lead');
    expect(roleFor({ groups: ['staff'] }, m)).toBeNull();
    expect(roleFor({}, m)).toBeNull();
    expect(roleFor({ groups: 'cg-leads' }, m), 'a lone group as a string').toBe('lead');
    expect(roleFor({ groups: [1, null, 'cg-admins'] }, m)).toBe('admin');
    expect(roleFor({ groups: ['CG-ADMINS'] }, m), 'group names match exactly').toBeNull();
  });
  it('reaches nested claims with dots (Keycloak realm roles), and prefers a flat claim of that very name', () => {
    expect(groupsOf({ realm_access: { roles: ['a', 'b'] } }, 'realm_access.roles')).toEqual(['a', 'b']);
    expect(groupsOf({ 'realm_access.roles': ['flat'], realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['flat']);
    expect(groupsOf({ realm_access: 'x' }, 'realm_access.roles')).toEqual([]);
  });
});

describe('where a sign-in lands', () => {
  it('is a path on this server only', () => {
    expect(safeNext('/fleet?site=north')).toBe('/fleet?site=north');
    for (const bad of [null, '', 'https://evil.example/', '//evil.example/', '/\\evil.example', '/login?next=/x', 'fleet', '/a\nb']) expect(safeNext(bad), String(bad)).toBe('/violations');
  });
});
