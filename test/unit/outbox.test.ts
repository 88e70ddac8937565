import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOutbox } from '../../agent/outbox.js';
import type { Event } from '../../shared/protocol.js';
import { tempDir } from '../support/server.js';
import { makeEvent } from '../support/ws-client.js';

const ev = (n: number) => makeEvent({ evidence: [`n=${n}`] }) as Event;
const opts = (dir: string) => ({ dir, maxEvents: 1000, maxBytes: 10 * 1024 * 1024 });

describe('outbox', () => {
  it('keeps events across a reopen until they are acked', () => {
    const dir = tempDir();
    const a = createOutbox(opts(dir));
    a.append([ev(1), ev(2)]);
    a.append([ev(3)]);
    a.close();
    const b = createOutbox(opts(dir));
    expect(b.peek(10).map((q) => q.event!.evidence[0])).toEqual(['n=1', 'n=2', 'n=3']);
    b.ack(b.peek(2)[1]!.seq);
    b.close();
    const c = createOutbox(opts(dir));
    expect(c.peek(10).map((q) => q.event!.evidence[0])).toEqual(['n=3']);
    expect(c.stats()).toMatchObject({ depth: 1, torn: 0 });
  });

  it('continues sequence numbers after a reopen so batch numbers keep increasing', () => {
    const dir = tempDir();
    const a = createOutbox(opts(dir));
    a.append([ev(1)]);
    a.ack(a.peek(1)[0]!.seq);
    a.close();
    const b = createOutbox(opts(dir));
    b.append([ev(2)]);
    expect(b.peek(1)[0]!.seq).toBe(2);
  });

  it('skips a torn last record and a corrupted one without failing', () => {
    const dir = tempDir();
    const a = createOutbox(opts(dir));
    a.append([ev(1), ev(2), ev(3)]);
    a.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.startsWith('seg-'))!);
    const lines = readFileSync(seg, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('n=2', 'n=X'); // bit rot: CRC no longer matches
    writeFileSync(seg, lines.join('\n'));
    appendFileSync(seg, '1234abcd {"seq":4,"event":{"id":"'); // power cut mid-write
    const b = createOutbox(opts(dir));
    expect(b.peek(10).map((q) => q.event!.evidence[0])).toEqual(['n=1', 'n=3']);
    expect(b.stats().torn).toBe(2);
    b.append([ev(5)]);
    b.close();
    const c = createOutbox(opts(dir));
    expect(c.peek(10).map((q) => q.event!.evidence[0])).toEqual(['n=1', 'n=3', 'n=5']);
  });

  it('deletes segments once everything in them is acked', () => {
    const dir = tempDir();
    const a = createOutbox({ ...opts(dir), segmentBytes: 600 });
    for (let i = 0; i < 6; i++) a.append([ev(i)]);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeGreaterThanOrEqual(2);
    a.ack(a.stats().lastSeq);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBe(1);
    expect(a.stats().depth).toBe(0);
  });

  it('drops the oldest events beyond its bound and counts them', () => {
    const dir = tempDir();
    const a = createOutbox({ dir, maxEvents: 3, maxBytes: 1024 * 1024 });
    a.append([ev(1), ev(2), ev(3), ev(4), ev(5)]);
    expect(a.peek(10).map((q) => q.event!.evidence[0])).toEqual(['n=3', 'n=4', 'n=5']);
    expect(a.stats().dropped).toBe(2);
  });
});
