/** The collection switches' text handling (agent/privacy/redact.ts): the same on every OS. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedactor, keyedHash, stripLinks, summarise } from '../../agent/privacy/redact.js';
import { Collection, DEFAULT_COLLECTION } from '../../shared/policy.js';
import type { Event } from '../../shared/protocol.js';

const KEY = 'a-deployment-key-of-some-length';
const event = (over: Partial<Event> = {}): Event => ({
  id: '00000000-0000-4000-8000-000000000001', violationId: '00000000-0000-4000-8000-000000000002', kind: 'started', app: 'zoom',
  state: 'in-call', via: 'process', pids: [4120], at: '2026-11-23T09:15:00.000Z', user: 'CLINIC\\dr.lee',
  evidence: [
    'process Zoom.exe (path matches Zoom install)',
    'camera in use by Zoom.exe (pid 4120, C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe)',
    'udp 170.114.10.20:8801 in Zoom media range',
    'browser Chrome (chrome) running Room https://clinic.zoom.us/j/81234567890?pwd=abc (command line)',
    'browser Chrome (chrome) opened with meet.google.com/abc-mnop-xyz --profile-directory=Default',
  ],
  ...over,
});
const redactor = (c: Partial<Collection>) => createRedactor(() => ({ collection: Collection.parse({ ...c }) }));

describe('collection switches', () => {
  it('hashes the user name as h:HMAC-SHA256(key, name), the form the server expects', () => {
    const out = redactor({ userNames: 'hashed', hashKey: KEY }).event(event());
    expect(out.user).toBe(`h:${createHmac('sha256', KEY).update('CLINIC\\dr.lee').digest('hex')}`);
    expect(out.user).toMatch(/^h:[0-9a-f]{64}$/);
    // The name is gone from the evidence too (a home folder in a path names its owner).
    expect(out.evidence.join('\n')).not.toContain('dr.lee');
    expect(out.evidence.join('\n')).toContain('C:\\Users\\[user]\\AppData');
    // Not hashed twice when replayed from the outbox.
    expect(redactor({ userNames: 'hashed', hashKey: KEY }).event(out).user).toBe(out.user);
  });

  it('never sends a URL, meeting link or command-line switch, whatever the other switches say', () => {
    for (const c of [{}, { evidence: 'full' as const }, { userNames: 'hashed' as const, hashKey: KEY }]) {
      const text = redactor(c).event(event()).evidence.join('\n');
      expect(text).not.toMatch(/https?:|zoom\.us\/j|meet\.google\.com|abc-mnop-xyz|pwd=|--profile/);
      expect(text).toContain('[link not collected]');
    }
    expect(stripLinks('udp 170.114.10.20:8801 in Zoom media range')).toBe('udp 170.114.10.20:8801 in Zoom media range');
    expect(stripLinks('udp 1.2.3.4:50000 peer-to-peer from WhatsApp.exe beside its Meta relay flow')).toContain('peer-to-peer');
  });

  it('keeps names with userNames: full (the default) and reduces evidence to its kinds with summary', () => {
    expect(redactor({}).event(event()).user).toBe('CLINIC\\dr.lee');
    const summary = redactor({ evidence: 'summary' }).event(event()).evidence;
    expect(summary).toEqual(["the app's process", 'camera in use by the app', "network flow to the app's call media servers", "the app's web client in a browser", 'another signal of the app']);
    expect(summarise(['zoom no longer seen for 2 poll(s)'])).toEqual(['zoom no longer seen for 2 poll(s)']);
  });

  it('hostname forms: full, short, hashed', () => {
    expect(redactor({}).hostname('rm4.north.clinic.example')).toBe('rm4.north.clinic.example');
    expect(redactor({ hostname: 'short' }).hostname('rm4.north.clinic.example')).toBe('rm4');
    expect(redactor({ hostname: 'hashed', hashKey: KEY }).hostname('RM4.north')).toBe(keyedHash(KEY, 'rm4.north'));
    expect(createRedactor(() => null).hostname('rm4.x')).toBe('rm4.x');
    expect(DEFAULT_COLLECTION.commandLines).toBe('never');
  });

  it('nudge outcomes: user hashed and detail cleaned', () => {
    const n = redactor({ userNames: 'hashed', hashKey: KEY }).nudge({ id: '00000000-0000-4000-8000-000000000003', violationId: '00000000-0000-4000-8000-000000000002', app: 'zoom', user: 'dr.lee', outcome: 'failed', at: '2026-11-23T09:15:00.000Z', detail: 'no local account "dr.lee" at /home/dr.lee' });
    expect(n.user).toBe(keyedHash(KEY, 'dr.lee'));
    expect(n.detail).not.toContain('dr.lee');
  });

  it('a policy that hashes without a key is refused, naming hashKey', () => {
    const r = Collection.safeParse({ userNames: 'hashed' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['hashKey']);
    expect(Collection.safeParse({ commandLines: 'always' }).success).toBe(false);
  });
});
