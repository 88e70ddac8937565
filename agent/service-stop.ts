/**
 * Windows service stop without a console. The service host starts node DETACHED (no console:
 * a service's console processes are ended by CTRL_LOGOFF_EVENT when any user logs off, and
 * libuv leaves that event to the default handler), so it cannot send Ctrl+C. Instead it
 * names a pipe and a token in the environment (CONSULTGUARD_STOP_PIPE, _TOKEN, both random
 * per start) and writes the token to the pipe when the SCM stops the service; the agent then
 * stops as on SIGINT (outbox flushed). Only the host knows the token, so another local
 * account that finds the pipe cannot stop the agent. Both variables are removed from the
 * environment at once, so the agent's own children (collector, PowerShell) never see them.
 *
 * macOS and Linux: not used (launchd and systemd send SIGTERM); the variables are unset.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:net';
import type { Logger } from '../shared/log.js';

/** Resolves with 'stop-request' when the host asks; null when no stop pipe was given. */
export function untilStopRequest(env: NodeJS.ProcessEnv, log: Logger): Promise<'stop-request'> | null {
  const pipe = env.CONSULTGUARD_STOP_PIPE;
  const token = env.CONSULTGUARD_STOP_TOKEN;
  delete env.CONSULTGUARD_STOP_PIPE;
  delete env.CONSULTGUARD_STOP_TOKEN;
  if (!pipe || !token) return null;
  const expected = Buffer.from(token);
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      let got = '';
      socket.setTimeout(5000, () => socket.destroy());
      socket.on('error', () => undefined);
      socket.on('data', (d: Buffer) => {
        got += d.toString('utf8');
        if (got.length > 200) return void socket.destroy();
        const nl = got.indexOf('\n');
        if (nl < 0) return;
        const offered = Buffer.from(got.slice(0, nl).trim());
        socket.destroy();
        if (offered.length === expected.length && timingSafeEqual(offered, expected)) {
          server.close();
          resolve('stop-request');
        } else {
          log.warn('a stop request with the wrong token was refused');
        }
      });
    });
    server.on('error', (err) => log.warn({ err }, 'cannot listen for the service stop request; the service host will end the agent after its grace period'));
    server.listen(pipe);
    server.unref();
  });
}
