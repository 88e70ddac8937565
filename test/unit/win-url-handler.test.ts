/**
 * The consultguard: URL handler on real files with a real child process as the target (a
 * node script standing in for the approved app). The same code runs under wine in
 * msi-wine.test.ts through the registered scheme; here every refusal is pinned.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runHandleUrl } from '../../agent/commands/handle-url.js';
import { launch } from '../../agent/nudge/open.js';
import { clickFile, handleNudgeUrl, parseNudgeUrl, pendingFile, writePending, type PendingNudge } from '../../agent/nudge/url-handler.js';
import { silentLogger } from '../../shared/log.js';
import { isAppError } from '../../shared/errors.js';
import { tempDir } from '../support/server.js';

const ID = '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10';

describe('consultguard: URL handler', () => {
  let dir = '';
  let marker = '';
  let pending: PendingNudge;
  beforeEach(() => {
    dir = tempDir('cg-url-');
    marker = join(dir, 'opened.txt');
    const stub = join(dir, 'stub.cjs');
    writeFileSync(stub, `require('fs').appendFileSync(${JSON.stringify(marker)}, process.argv.slice(2).join('|') + '\\n')`);
    pending = { v: 1, id: ID, expiresAt: Date.now() + 60_000, open: { cmd: process.execPath, args: [stub, 'approved'] }, about: { cmd: process.execPath, args: [stub, 'why'] } };
    writePending(dir, pending);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records the click durably, then opens the target the helper named for that nudge', async () => {
    const r = await handleNudgeUrl(`consultguard:open?n=${ID.toUpperCase()}`, dir);
    expect(r).toEqual({ action: 'open', id: ID, problem: null });
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('open\n');
    expect(readFileSync(`${clickFile(dir, ID)}.result`, 'utf8')).toBe('opened\n');
    await vi.waitFor(() => expect(readFileSync(marker, 'utf8')).toBe('approved\n'));
  });

  it('opens the "why" page for about, and opens nothing for "Not now"', async () => {
    expect((await handleNudgeUrl(`consultguard:about?n=${ID}`, dir)).problem).toBeNull();
    await vi.waitFor(() => expect(readFileSync(marker, 'utf8')).toBe('why\n'));
    expect((await handleNudgeUrl(`consultguard:dismiss?n=${ID}`, dir)).problem).toBeNull();
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('dismiss\n');
    expect(readFileSync(`${clickFile(dir, ID)}.result`, 'utf8')).toBe('recorded\n');
  });

  it('reports a target that cannot start, after recording the click', async () => {
    writePending(dir, { ...pending, open: { cmd: join(dir, 'no-such-app.exe'), args: [] } });
    const r = await handleNudgeUrl(`consultguard:open?n=${ID}`, dir, { launch });
    expect(r.problem).toMatch(/no-such-app\.exe is not installed/);
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('open\n');
    expect(readFileSync(`${clickFile(dir, ID)}.result`, 'utf8')).toMatch(/^failed: .*no-such-app\.exe is not installed\n$/);
  });

  it('opens nothing for an unknown, expired or tampered nudge', async () => {
    const other = '0b7c2f0e-1111-4a59-9e43-2a7f7a0d6f10';
    expect((await handleNudgeUrl(`consultguard:open?n=${other}`, dir)).problem).toMatch(/no such nudge/);
    expect((await handleNudgeUrl(`consultguard:open?n=${ID}`, dir, { now: () => pending.expiresAt + 1 })).problem).toBe('this nudge has expired');
    // A pending file naming another id (copied over) is not trusted.
    writeFileSync(pendingFile(dir, other), JSON.stringify({ ...pending }));
    expect((await handleNudgeUrl(`consultguard:open?n=${other}`, dir)).problem).toMatch(/no such nudge/);
    writeFileSync(pendingFile(dir, ID), '{"v":1,"id":"' + ID + '","expiresAt":1e99,"open":"calc.exe"}');
    expect((await handleNudgeUrl(`consultguard:open?n=${ID}`, dir)).problem).toMatch(/no such nudge/);
    expect(existsSync(clickFile(dir, other))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    'consultguard:open', 'consultguard:open?n=../../etc/passwd', `consultguard:run?n=${ID}`, `consultguard:open?n=${ID}&cmd=calc`,
    `https://evil.example/?n=${ID}`, `consultguard:open?n=${ID.replace(/-/g, '')}`,
  ])('refuses the URL %s with a bad_option error naming the expected shape', (url) => {
    let err: unknown;
    try {
      parseNudgeUrl(url);
    } catch (e) {
      err = e;
    }
    expect(isAppError(err) && err.code === 'bad_option' && /expected consultguard:open\|about\|sees\|dismiss\?n=<nudge id>, consultguard:need\?n=<nudge id>&t=<key> or consultguard:claim/.test(err.message)).toBe(true);
  });

  it('exits 0 when opened and 1 when nothing was opened (the CLI\'s statuses)', async () => {
    expect(await runHandleUrl(`consultguard:open?n=${ID}`, silentLogger(), dir)).toBe(0);
    expect(await runHandleUrl('consultguard:open?n=0b7c2f0e-1111-4a59-9e43-2a7f7a0d6f10', silentLogger(), dir)).toBe(1);
  });

  it('cleans up pending toasts and clicks older than a day when the helper writes a new one', () => {
    const old = '0b7c2f0e-1111-4a59-9e43-2a7f7a0d6f10';
    writePending(dir, { ...pending, id: old }, Date.now());
    mkdirSync(join(dir, 'clicks'), { recursive: true });
    writePending(dir, pending, Date.now() + 2 * 86_400_000);
    expect(existsSync(pendingFile(dir, old))).toBe(false);
    expect(existsSync(pendingFile(dir, ID))).toBe(true);
  });
});
