/**
 * The client's address as the login limits and the audit log see it. Behind a reverse
 * proxy or load balancer (HAProxy, nginx) every request comes from the proxy, which names
 * the real client in `X-Forwarded-For`. That header is anyone's to write, so it is read
 * only when the socket's peer is a configured proxy (`--trust-proxy ADDR,...`); then the
 * list is walked from the right (the hop nearest us) past further trusted proxies, and the
 * first address not trusted is the client. Without `--trust-proxy` the header is ignored.
 */
import type { IncomingMessage } from 'node:http';
import { inRanges, parseIp, type Cidr } from '../../shared/net.js';

export type ClientAddress = (req: IncomingMessage) => string;

export function createClientAddress(trusted: readonly Cidr[]): ClientAddress {
  return (req) => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (trusted.length === 0 || !inRanges(peer, trusted)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    let nearest = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // Not an address: what lies left of it cannot be trusted; the proxy that passed it on is the client as far as we know.
      if (parseIp(hop) === null) return nearest;
      if (!inRanges(hop, trusted)) return hop;
      nearest = hop;
    }
    return nearest;
  };
}
