/** The agent's server list (`--server URL1,URL2`): validation of each URL, and the order and pace of tries. */
import { describe, expect, it } from 'vitest';
import { createFailover, serverEndpoints } from '../../agent/servers.js';
import { AppError } from '../../shared/errors.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('bad_option');
    return (err as AppError).message;
  }
  throw new Error('expected a bad_option error');
}

describe('serverEndpoints', () => {
  it('splits a comma-separated list (or takes an array) and adds the agent path', () => {
    expect(serverEndpoints('wss://a.example:8470, wss://b.example:8470/', false)).toEqual(['wss://a.example:8470/agent', 'wss://b.example:8470/agent']);
    expect(serverEndpoints(['https://a.example', 'ws://127.0.0.1:9'], false)).toEqual(['wss://a.example/agent', 'ws://127.0.0.1:9/agent']);
    expect(serverEndpoints('wss://only.example:8470', false)).toEqual(['wss://only.example:8470/agent']);
  });

  it('names the option and which URL of the list is wrong', () => {
    expect(refusal(() => serverEndpoints('wss://a.example,ws://10.0.0.5:8470', false)))
      .toBe('--server (URL 2 of 2, "ws://10.0.0.5:8470"): plain ws:// to 10.0.0.5 would send events unencrypted; use wss:// (or --insecure on a trusted test network)');
    expect(refusal(() => serverEndpoints('not a url,wss://b.example', false))).toMatch(/^--server \(URL 1 of 2, "not a url"\): "not a url" is not a URL/);
    expect(refusal(() => serverEndpoints('wss://a.example,ftp://b.example', false))).toMatch(/^--server \(URL 2 of 2, "ftp:\/\/b.example"\): expected a wss:\/\/ URL, got ftp:/);
    expect(refusal(() => serverEndpoints(' , ', false))).toMatch(/^--server: expected at least one URL/);
    expect(refusal(() => serverEndpoints('wss://a.example,wss://a.example/agent', false))).toMatch(/^--server \(URL 2 of 2\): wss:\/\/a.example\/agent is listed twice/);
    // A single URL keeps today's message.
    expect(refusal(() => serverEndpoints('ws://10.0.0.5:8470', false))).toMatch(/^--server: plain ws:\/\//);
  });

  it('parses loopback as an address in every URL of the list; --insecure allows plain ws:// elsewhere', () => {
    expect(serverEndpoints('ws://localhost:1,ws://127.3.2.1:2,ws://[::1]:3', false)).toHaveLength(3);
    expect(refusal(() => serverEndpoints('ws://127.0.0.1:1,ws://127.attacker.example:2', false))).toMatch(/^--server \(URL 2 of 2, "ws:\/\/127.attacker.example:2"\): plain ws:\/\//);
    expect(serverEndpoints('ws://127.0.0.1:1,ws://10.0.0.5:2', true)).toEqual(['ws://127.0.0.1:1/agent', 'ws://10.0.0.5:2/agent']);
  });
});

describe('createFailover', () => {
  const backoff = { minMs: 1000, maxMs: 8000 };
  const lost = { welcomed: false, code: 1006, tokenRefused: false };

  it('tries the next URL at once after a failure, and backs off only after a whole round', () => {
    const f = createFailover({ endpoints: ['a', 'b', 'c'], backoff, random: () => 1 });
    expect(f.current()).toBe('a');
    const delays: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) {
      delays.push(f.ended(lost).delayMs);
      seen.push(f.current());
    }
    expect(seen).toEqual(['b', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a']);
    // Within a round: at most a quarter of the minimum (jitter only). After each round:
    // the cap doubles from the minimum to the maximum (random() = 1 gives the cap itself).
    expect(delays).toEqual([250, 250, 1000, 250, 250, 2000, 250, 250, 4000]);
    for (let i = 0; i < 6; i++) f.ended(lost);
    expect(f.ended(lost).delayMs).toBe(250);
    f.ended(lost);
    expect(f.ended(lost).delayMs).toBe(8000); // capped
  });

  it('starts a new round after a link that worked is lost, and moves to the next server', () => {
    const f = createFailover({ endpoints: ['a', 'b'], backoff, random: () => 1 });
    f.ended(lost);
    f.ended(lost); // a full round: back-off grew
    expect(f.current()).toBe('a');
    const next = f.ended({ welcomed: true, code: 1006, tokenRefused: false });
    expect(f.current()).toBe('b');
    expect(next).toEqual({ delayMs: 1000, dropToken: false });
    f.ended(lost);
    expect(f.ended(lost).delayMs).toBe(1000); // the exponent started again
  });

  it('counts a refusal after a welcome as a failure, so a server that accepts and then refuses is not retried in a tight loop', () => {
    const f = createFailover({ endpoints: ['a'], backoff, random: () => 1 });
    const refused = { welcomed: true, code: 4429, tokenRefused: false };
    expect([f.ended(refused).delayMs, f.ended(refused).delayMs, f.ended(refused).delayMs]).toEqual([1000, 2000, 4000]);
  });

  it('keeps the token while any server of the round may still accept it, and drops it after a round of refusals', () => {
    const f = createFailover({ endpoints: ['a', 'b'], backoff, random: () => 0 });
    const tokenRefused = { welcomed: false, code: 4401, tokenRefused: true };
    // a refuses the token, b welcomes it: kept.
    expect(f.ended(tokenRefused).dropToken).toBe(false);
    expect(f.ended({ welcomed: true, code: 1006, tokenRefused: false }).dropToken).toBe(false);
    // a refuses, b is down: the round ends without a welcome and with a refusal: dropped.
    expect(f.ended(tokenRefused).dropToken).toBe(false);
    expect(f.ended(lost).dropToken).toBe(true);
    // One server: one refusal is the whole round (today's behaviour).
    const one = createFailover({ endpoints: ['a'], backoff });
    expect(one.ended(tokenRefused).dropToken).toBe(true);
  });
});
