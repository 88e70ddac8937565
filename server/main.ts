/**
 * The server, wired: store, policies, agent gateway, HTTP API. This file is the
 * architecture diagram of the server side.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import { builtinPoliciesDir } from '../shared/paths.js';
import { createApi } from './api/index.js';
import type { ServerConfig } from './config.js';
import { createGateway } from './gateway/index.js';
import { createPolicyService } from './policy/index.js';
import { resolveEnrollSecrets } from './secrets.js';
import { createStore } from './store/index.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const policies = createPolicyService(resolve(config.policiesDir ?? builtinPoliciesDir()), log.child({ module: 'policy' }));
  const store = createStore(resolve(config.dataDir));
  const secrets = resolveEnrollSecrets(config.enrollSecret, resolve(config.dataDir));

  const gateway = createGateway({
    store,
    enrollSecrets: () => secrets,
    policyFor: policies.policyFor,
    log: log.child({ module: 'gateway' }),
    helloTimeoutMs: config.helloTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    rate: config.rate,
    onIngest: () => undefined,
  });
  policies.onChange(() => gateway.pushPolicies(policies.policyFor));
  policies.watch();

  const api = createApi({ store, gateway, policies, log });
  const server: Server = createHttpServer(api);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  gateway.attach(server);

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, data: resolve(config.dataDir), policies: policies.current().policies.map((p) => p.effective.name) }, 'server listening');

  return {
    url,
    port,
    async close() {
      policies.close();
      await gateway.close();
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      store.close();
    },
  };
}
