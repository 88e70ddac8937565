/**
 * The install lines the secrets screen shows (pure): the property names installers/README.md
 * documents, the agent's ws(s) URL from the dashboard's origin, a secret without a site,
 * and values that must not break out of their shell or XML quoting.
 */
import { describe, expect, it } from 'vitest';
import { agentServerUrl, installLines } from '../../server/web/app/components/install-lines.js';
import { splitPolicyError } from '../../server/api/policies.js';

describe('install lines', () => {
  it('builds msiexec, Jamf, pkg and deb lines from the origin, secret, site and version', () => {
    const l = installLines({ origin: 'https://guard.clinic.example:8470', secret: 'S3cr3t', site: 'north', version: '1.2.3' });
    expect(l.serverUrl).toBe('wss://guard.clinic.example:8470');
    expect(l.msiexec).toBe('msiexec /i consultguard-agent-1.2.3-x64.msi /qn /l*v "%TEMP%\\consultguard-install.log" SERVER_URL=wss://guard.clinic.example:8470 ENROLL_SECRET=S3cr3t SITE=north');
    expect(l.jamfPlist).toContain('<key>site</key><string>north</string>');
    expect(l.pkg).toBe('sudo installer -pkg consultguard-agent-1.2.3.pkg -target /');
    expect(l.deb).toContain(`'{"serverUrl":"wss://guard.clinic.example:8470","enrollSecret":"S3cr3t","site":"north"}'`);
    expect(l.deb).toMatch(/^sudo apt install \.\/consultguard-agent_1\.2\.3_amd64\.deb && /);
  });

  it('leaves SITE out for a secret without a site; quotes a site with spaces; escapes XML and shell quotes', () => {
    const none = installLines({ origin: 'http://127.0.0.1:8470', secret: 'abc', site: null, version: '0.1.0' });
    expect(none.msiexec).not.toContain('SITE=');
    expect(none.jamfPlist).not.toContain('<key>site</key>');
    expect(none.serverUrl).toBe('ws://127.0.0.1:8470');
    const odd = installLines({ origin: 'http://h', secret: 'abc', site: "St John's & <Co>", version: '0.1.0' });
    expect(odd.msiexec).toContain(`SITE="St John's & <Co>"`);
    expect(odd.jamfPlist).toContain('<string>St John\'s &amp; &lt;Co&gt;</string>');
    expect(odd.deb).toContain(`"site":"St John'\\''s & <Co>"`);
    expect(agentServerUrl('https://x/')).toBe('wss://x');
  });
});

describe('policy error split', () => {
  it('splits FILE:LINE: message, keeps other messages whole', () => {
    expect(splitPolicyError('/etc/p/a.yaml:9: consultHours[0].to: expected HH:MM')).toEqual({ message: '/etc/p/a.yaml:9: consultHours[0].to: expected HH:MM', file: '/etc/p/a.yaml', line: 9 });
    expect(splitPolicyError('C:\\p\\a.yaml:3: name: bad')).toMatchObject({ file: 'C:\\p\\a.yaml', line: 3 });
    expect(splitPolicyError('no default policy')).toEqual({ message: 'no default policy', file: null, line: null });
  });
});
