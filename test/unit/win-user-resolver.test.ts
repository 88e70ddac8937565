/**
 * Windows has no `id`: the nudger's user resolver (Linux and macOS only) must not look it up
 * when it is created, or the agent dies at start on Windows ("id is not a Windows tool",
 * what the MSI-installed service under wine showed after the agent restructure). Windows
 * nudges go by account name (nudge/windows.ts) and never resolve a uid.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createUserResolver } from '../../agent/nudge/users.js';

const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
afterEach(() => Object.defineProperty(process, 'platform', real));

describe('user resolver on Windows', () => {
  it('is created without asking for a Windows `id` tool', () => {
    Object.defineProperty(process, 'platform', { ...real, value: 'win32' });
    expect(() => createUserResolver()).not.toThrow();
  });

  it('still resolves uid:N owners without running anything', async () => {
    expect(await createUserResolver('/nonexistent/id')('uid:501')).toEqual({ uid: 501, gid: -1 });
  });
});
