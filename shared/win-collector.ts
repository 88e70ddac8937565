/**
 * What the Windows native collector (installers/windows/collector.c) answers, one JSON line
 * per request. Rows are arrays, not objects: a clinic PC has hundreds of processes and
 * sockets, polled every few seconds, and the compact form halves the bytes to parse.
 */
import * as z from 'zod';

const pid = z.number().int().nonnegative();
const port = z.number().int().min(0).max(65535);

/** [pid, ppid, session id, creation time (ms since 1970), name, full image path, DOMAIN\user] */
export const NativeProcessRow = z.tuple([pid, pid, z.number().int().nonnegative(), z.number().int(), z.string(), z.string().nullable(), z.string().nullable()]);
/** [owning pid, local address, local port, remote address, remote port, state] */
export const NativeTcpRow = z.tuple([pid, z.string(), port, z.string(), port, z.string()]);
/** [owning pid, local address, local port]: Windows keeps no remote end for UDP. */
export const NativeUdpRow = z.tuple([pid, z.string(), port]);

export const NativePollReply = z.object({
  ok: z.literal(1),
  now: z.number().int(),
  p: z.array(NativeProcessRow),
  tcp: z.array(NativeTcpRow),
  udp: z.array(NativeUdpRow),
});
export type NativePollReply = z.infer<typeof NativePollReply>;

/** Answer to `tcp`: the TCP tables with owning pids (`poll basic` leaves them out). */
export const NativeTcpReply = z.object({ ok: z.literal(1), tcp: z.array(NativeTcpRow) });

export const NativeCmdReply = z.object({ ok: z.literal(1), cmd: z.array(z.tuple([pid, z.string()])) });
export type NativeCmdReply = z.infer<typeof NativeCmdReply>;

export const NativeErrorReply = z.object({ ok: z.literal(0), error: z.string() });
