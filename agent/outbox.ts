/**
 * The durable outbox: every event is on disk (written and fsynced) before it counts as
 * queued, and leaves only after the server's ack. Plain files, no native addon, so the
 * agent packages for Windows and macOS from a Linux build.
 *
 * Layout: `DIR/seg-<first seq>.log`, append-only, one record per line:
 *   <crc32 of json, 8 hex> <json {"seq":N,"event":{...}} or {"seq":N,"nudge":{...}}>\n
 * and `DIR/acked`, the highest acknowledged seq (replaced atomically). On open every
 * segment is read; a record whose CRC does not match (a torn write from a crash or power
 * loss) is skipped and counted, never fatal. Segments wholly acked are deleted.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Event, NudgeOutcome } from '../shared/protocol.js';
import { AppError } from '../shared/errors.js';

export interface OutboxOptions {
  dir: string;
  maxEvents: number;
  maxBytes: number;
  segmentBytes?: number;
  /** fsync after each append (default true; benchmarks may measure both). */
  fsync?: boolean;
}

/** One queued record: a violation event or a nudge outcome, sent in that order. */
export type QueuedEvent = { seq: number; bytes: number } & ({ event: Event; nudge?: undefined } | { nudge: NudgeOutcome; event?: undefined });

export interface OutboxStats {
  depth: number;
  bytes: number;
  dropped: number;
  torn: number;
  lastSeq: number;
  acked: number;
}

const SEG = /^seg-(\d{16})\.log$/;

export function createOutbox(opts: OutboxOptions) {
  const segmentBytes = opts.segmentBytes ?? 1024 * 1024;
  const doSync = opts.fsync ?? true;
  mkdirSync(opts.dir, { recursive: true });
  const ackFile = join(opts.dir, 'acked');

  let acked = existsSync(ackFile) ? Number(readFileSync(ackFile, 'utf8').trim()) || 0 : 0;
  let lastSeq = acked;
  let dropped = 0;
  let torn = 0;
  let pending: QueuedEvent[] = [];
  let pendingBytes = 0;
  /** Segments with the highest seq each holds. */
  const segments: Array<{ name: string; maxSeq: number; size: number }> = [];

  for (const name of readdirSync(opts.dir).filter((n) => SEG.test(n)).sort()) {
    const text = readFileSync(join(opts.dir, name), 'utf8');
    let maxSeq = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const rec = parseRecord(line);
      if (!rec) {
        torn++;
        continue;
      }
      maxSeq = Math.max(maxSeq, rec.seq);
      lastSeq = Math.max(lastSeq, rec.seq);
      if (rec.seq > acked) pending.push(rec);
    }
    segments.push({ name, maxSeq, size: Buffer.byteLength(text) });
  }
  pending.sort((a, b) => a.seq - b.seq);
  // Drop duplicates a crash between append and rotation could leave.
  pending = pending.filter((r, i) => i === 0 || r.seq !== pending[i - 1]?.seq);
  pendingBytes = pending.reduce((n, r) => n + r.bytes, 0);

  let fd: number | null = null;
  let current: { name: string; maxSeq: number; size: number } | null = null;

  function openSegment(firstSeq: number): void {
    if (fd !== null) closeSync(fd);
    const name = `seg-${String(firstSeq).padStart(16, '0')}.log`;
    fd = openSync(join(opts.dir, name), 'a', 0o600);
    current = { name, maxSeq: 0, size: 0 };
    segments.push(current);
  }

  function writeAck(seq: number): void {
    const tmp = `${ackFile}.tmp`;
    const f = openSync(tmp, 'w', 0o600);
    writeSync(f, `${seq}\n`);
    if (doSync) fsyncSync(f);
    closeSync(f);
    renameSync(tmp, ackFile);
  }

  function gc(): void {
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i]!;
      if (s === current || s.maxSeq > acked) continue;
      try {
        unlinkSync(join(opts.dir, s.name));
      } catch {
        // already gone
      }
      segments.splice(i, 1);
    }
  }

  /** Drops the oldest pending events until one more of `bytes` fits. */
  function makeRoom(bytes: number): void {
    while (pending.length > 0 && (pending.length + 1 > opts.maxEvents || pendingBytes + bytes > opts.maxBytes)) {
      const old = pending.shift()!;
      pendingBytes -= old.bytes;
      dropped++;
      acked = Math.max(acked, old.seq);
    }
  }

  function appendRecords(items: Array<{ event: Event } | { nudge: NudgeOutcome }>): void {
    if (items.length === 0) return;
    const lines: string[] = [];
    const recs: QueuedEvent[] = [];
    for (const item of items) {
      const seq = ++lastSeq;
      const json = JSON.stringify({ seq, ...item });
      const line = `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
      lines.push(line);
      recs.push({ seq, ...item, bytes: Buffer.byteLength(line) } as QueuedEvent);
    }
    if (fd === null || current === null || current.size >= segmentBytes) openSegment(recs[0]!.seq);
    const data = lines.join('');
    try {
      writeSync(fd!, data);
      if (doSync) fsyncSync(fd!);
    } catch (err) {
      lastSeq -= recs.length;
      // A full disk is the one write failure with a known remedy: say so with its code.
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new AppError('disk_full', `no space left for the outbox in ${opts.dir}; free disk space there; the agent keeps monitoring and records the end of what is still open once it can write`, { cause: err });
      throw err;
    }
    current!.size += Buffer.byteLength(data);
    current!.maxSeq = lastSeq;
    for (const r of recs) {
      makeRoom(r.bytes);
      pending.push(r);
      pendingBytes += r.bytes;
    }
  }

  return {
    /** Appends events durably; returns once they are on disk. Throws if the disk refuses (e.g. ENOSPC). */
    append(events: Event[]): void {
      appendRecords(events.map((event) => ({ event })));
    },
    /** Appends nudge outcomes, durably, in the same sequence as events. */
    appendNudges(nudges: NudgeOutcome[]): void {
      appendRecords(nudges.map((nudge) => ({ nudge })));
    },
    /** Unacknowledged events with a seq above `seq` (for crash recovery). */
    pendingAfter(seq: number): QueuedEvent[] {
      return pending.filter((q) => q.seq > seq);
    },
    /** The oldest `max` unacknowledged events. */
    peek(max: number): QueuedEvent[] {
      return pending.slice(0, max);
    },
    /** Everything up to and including `seq` was stored by the server. */
    ack(seq: number): void {
      if (seq <= acked) return;
      acked = seq;
      let n = 0;
      while (n < pending.length && pending[n]!.seq <= seq) {
        pendingBytes -= pending[n]!.bytes;
        n++;
      }
      pending = pending.slice(n);
      writeAck(seq);
      gc();
    },
    stats(): OutboxStats {
      return { depth: pending.length, bytes: pendingBytes, dropped, torn, lastSeq, acked };
    },
    close(): void {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;

function parseRecord(line: string): QueuedEvent | null {
  const sp = line.indexOf(' ');
  if (sp !== 8) return null;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return null;
  try {
    const obj = JSON.parse(json) as { seq?: unknown; event?: unknown; nudge?: unknown };
    if (typeof obj.seq !== 'number') return null;
    const bytes = Buffer.byteLength(line) + 1;
    // A record that no longer fits the protocol (e.g. written by an older agent) would be
    // refused by the server forever; skip it here instead of blocking the queue.
    if (obj.nudge !== undefined) {
      const nudge = NudgeOutcome.safeParse(obj.nudge);
      return nudge.success ? { seq: obj.seq, nudge: nudge.data, bytes } : null;
    }
    const event = Event.safeParse(obj.event);
    return event.success ? { seq: obj.seq, event: event.data, bytes } : null;
  } catch {
    return null;
  }
}
