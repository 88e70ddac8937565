/**
 * Instances that load different policy versions say so (issue 15): two server instances
 * on one store (two processes' worth of SQLite connections in one test process, as in
 * alerts-instances.test.ts), each with a policies folder of its own, as configuration
 * management deploys them. Until the PostgreSQL engine lands this is the one store two
 * instances can share in a test; the comparison itself is engine-neutral.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Health } from '../../shared/api-types.js';
import { packageRoot } from '../../shared/paths.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

const open: TestServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close();
});

function policiesDir(): string {
  const dir = tempDir('cg-inst-pol-');
  copyFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), join(dir, 'demo.yaml'));
  return dir;
}

async function health(s: TestServer) {
  const r = await s.fetchJson('/healthz', null);
  return { status: r.status, body: Health.parse(r.body) };
}

async function metrics(s: TestServer): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

describe('policy versions across instances', () => {
  it('each instance reports what it and the others loaded; a difference degrades /healthz and shows in /metrics until it is fixed', async () => {
    const dataDir = tempDir('cg-inst-');
    const [dirA, dirB] = [policiesDir(), policiesDir()];
    const a = await startTestServer({ dataDir, policiesDir: dirA, instanceBeatMs: 400, keepData: true });
    open.push(a);
    const b = await startTestServer({ dataDir, policiesDir: dirB, instanceBeatMs: 400, keepData: true });
    open.push(b);

    // The same files: both see two instances, agreeing.
    const same = await vi.waitFor(async () => {
      const h = await health(a);
      expect(h.body.cluster.instances).toHaveLength(2);
      return h;
    }, { timeout: 15_000 });
    expect(same.body.status).toBe('ok');
    expect(same.body.cluster.policyVersionsAgree).toBe(true);
    const version = same.body.policy.policies[0]!.version;
    expect(same.body.cluster.instances.map((i) => i.policies)).toEqual([[{ name: 'demo', version }], [{ name: 'demo', version }]]);
    const idA = same.body.instance.id;
    const idB = (await health(b)).body.instance.id;
    expect(idA).not.toBe(idB);
    await vi.waitFor(async () => expect(await metrics(a)).toMatch(/^consultguard_cluster_instances 2$/m), { timeout: 15_000 });

    // A roll-out that reached B only: B reloads its folder; both instances say so.
    const good = readFileSync(join(dirB, 'demo.yaml'), 'utf8');
    writeFileSync(join(dirB, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 3'));
    const newVersion = await vi.waitFor(async () => {
      const v = (await health(b)).body.policy.policies[0]!.version;
      expect(v).not.toBe(version);
      return v;
    }, { timeout: 15_000 });
    for (const s of [a, b]) {
      const h = await vi.waitFor(async () => {
        const r = await health(s);
        expect(r.body.cluster.policyVersionsAgree).toBe(false);
        return r;
      }, { timeout: 15_000 });
      expect(h.status).toBe(200); // every event is still stored: degraded, not down
      expect(h.body.status).toBe('degraded');
      expect(h.body.cluster.policyMismatch).toContain(`demo ${version} on `);
      expect(h.body.cluster.policyMismatch).toContain(`demo ${newVersion} on `);
      expect(h.body.cluster.policyMismatch).toContain(`(${idA.slice(0, 8)})`);
      expect(h.body.cluster.policyMismatch).toContain(`(${idB.slice(0, 8)})`);
      await vi.waitFor(async () => {
        const text = await metrics(s);
        expect(text).toMatch(/^consultguard_cluster_policy_versions_differ 1$/m);
        expect(text).toContain(`consultguard_cluster_policy_loaded{policy="demo",version="${version}"} 1`);
        expect(text).toContain(`consultguard_cluster_policy_loaded{policy="demo",version="${newVersion}"} 1`);
      }, { timeout: 15_000 });
    }
    expect(await metrics(a)).toContain(`consultguard_policy_loaded{policy="demo",version="${version}"} 1`);
    expect(await metrics(b)).toContain(`consultguard_policy_loaded{policy="demo",version="${newVersion}"} 1`);

    // A gets the same files: agreement again, on both.
    writeFileSync(join(dirA, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 3'));
    for (const s of [a, b]) {
      await vi.waitFor(async () => {
        const r = await health(s);
        expect(r.body.cluster.policyVersionsAgree).toBe(true);
        expect(r.body.status).toBe('ok');
      }, { timeout: 15_000 });
    }
    await vi.waitFor(async () => expect(await metrics(a)).toMatch(/^consultguard_cluster_policy_versions_differ 0$/m), { timeout: 15_000 });

    // A stopping instance deletes its row (rather than lingering until it ages out), and
    // the other sees it gone at its next beat.
    await b.close();
    open.splice(open.indexOf(b), 1);
    const db = new Database(join(dataDir, 'consultguard.db'), { readonly: true, fileMustExist: true });
    try {
      expect((db.prepare('SELECT instance_id FROM instances').all() as Array<{ instance_id: string }>).map((r) => r.instance_id)).toEqual([idA]);
    } finally {
      db.close();
    }
    await vi.waitFor(async () => expect((await health(a)).body.cluster.instances.map((i) => i.id)).toEqual([idA]), { timeout: 5000 });
  });
});
