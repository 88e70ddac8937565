/**
 * Loads a policies folder: policy files at its top level, catalog files under
 * `catalog/`. The catalog shipped in the package is the base; a folder's own catalog
 * and a policy's `apps:` add apps or override them by id, without code changes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppError } from './errors.js';
import { BrowserFile, CatalogApp, type Browser, type Catalog } from './catalog.js';
import { builtinCatalogDir } from './paths.js';
import { EffectivePolicy, PolicyFile } from './policy.js';
import { parseCidr } from './net.js';
import { displayPath, readLocated, validateLocated, type LocatedDoc } from './yaml-file.js';

const POLICY_EXT = /\.(ya?ml|json)$/i;

export interface LoadedPolicy {
  file: string;
  policy: PolicyFile;
  effective: EffectivePolicy;
}

export interface PolicySet {
  dir: string;
  catalog: Catalog;
  policies: LoadedPolicy[];
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => POLICY_EXT.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

function checkApp(doc: LocatedDoc, app: CatalogApp, base: readonly PropertyKey[]): void {
  const at = (path: PropertyKey[], what: string): never => {
    throw new AppError('bad_policy', `${displayPath(doc.file)}:${doc.lineOf([...base, ...path])}: ${[...base, ...path].map(String).join('.')}: ${what}`);
  };
  const sources = app.sources;
  app.processes.forEach((p, i) => {
    if (p.source && !(p.source in sources)) at(['processes', i, 'source'], `unknown source "${p.source}"; add it under sources:`);
  });
  app.joinCommandLines.forEach((j, i) => {
    try {
      new RegExp(j.pattern, 'i');
    } catch {
      at(['joinCommandLines', i, 'pattern'], `not a valid regular expression: ${j.pattern}`);
    }
  });
  app.network?.ranges.forEach((r, i) => {
    if (!parseCidr(r.cidr)) at(['network', 'ranges', i, 'cidr'], `expected an IPv4 or IPv6 CIDR such as 170.114.0.0/16, got "${r.cidr}"`);
  });
}

export function loadCatalogDir(dir: string, into: Map<string, CatalogApp>, browsers: Browser[]): void {
  for (const file of listFiles(dir)) {
    const doc = readLocated(file);
    if (/^browsers\.(ya?ml|json)$/i.test(file.slice(dir.length + 1))) {
      browsers.push(...validateLocated(doc, BrowserFile).browsers);
      continue;
    }
    const app = validateLocated(doc, CatalogApp);
    checkApp(doc, app, []);
    into.set(app.id, app);
  }
}

function versionOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
}

/** Loads and validates every file; throws the first error (naming file, line, field). */
export function loadPolicies(dirArg: string): PolicySet {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new AppError('policy_not_found', `policies folder ${displayPath(dir)} does not exist; pass --policies DIR with the clinic's policy files`);
  }
  const apps = new Map<string, CatalogApp>();
  const browsers: Browser[] = [];
  loadCatalogDir(builtinCatalogDir(), apps, browsers);
  if (resolve(join(dir, 'catalog')) !== resolve(builtinCatalogDir())) loadCatalogDir(join(dir, 'catalog'), apps, browsers);
  const catalog: Catalog = { apps: [...apps.values()], browsers };

  const policies: LoadedPolicy[] = [];
  for (const file of listFiles(dir)) {
    const doc = readLocated(file);
    const policy = validateLocated(doc, PolicyFile);
    const merged = new Map(apps);
    policy.apps.forEach((app, i) => {
      checkApp(doc, app, ['apps', i]);
      merged.set(app.id, app);
    });
    const known = (id: string, path: PropertyKey[]) => {
      if (!merged.has(id)) {
        throw new AppError('bad_policy', `${displayPath(file)}:${doc.lineOf(path)}: ${path.map(String).join('.')}: unknown app "${id}"; known apps: ${[...merged.keys()].sort().join(', ')}`);
      }
    };
    if (policy.monitor !== 'all') policy.monitor.forEach((id, i) => known(id, ['monitor', i]));
    policy.approved.apps.forEach((id, i) => known(id, ['approved', 'apps', i]));
    const approved = new Set(policy.approved.apps);
    const monitor = (policy.monitor === 'all' ? [...merged.keys()] : policy.monitor).filter((id) => !approved.has(id));
    const body = {
      name: policy.name,
      timezone: policy.timezone,
      consultHours: policy.consultHours,
      closures: policy.closures,
      monitor,
      approved: policy.approved,
      mode: policy.mode,
      nudge: policy.nudge,
      agent: policy.agent,
      collection: policy.collection,
      transparency: policy.transparency,
      exceptions: policy.exceptions,
      catalog: { apps: [...merged.values()].filter((a) => monitor.includes(a.id)), browsers },
    };
    const effective = EffectivePolicy.parse({ version: versionOf(body), ...body });
    policies.push({ file, policy, effective });
  }
  if (policies.length === 0) {
    throw new AppError('policy_not_found', `no policy file (*.yaml, *.yml, *.json) in ${displayPath(dir)}; copy policies/default.yaml there and edit it`);
  }
  const defaults = policies.filter((p) => p.policy.default);
  if (defaults.length > 1) {
    throw new AppError('bad_policy', `${defaults.map((p) => displayPath(p.file)).join(' and ')}: more than one policy says default: true; keep one`);
  }
  return { dir, catalog, policies };
}

/** The policy for an agent: the first whose `assign` names its site or group, else the default. */
export function policyFor(set: PolicySet, agent: { site?: string | null; group?: string | null }): LoadedPolicy {
  const bySite = set.policies.find(
    (p) => (agent.site && p.policy.assign.sites.includes(agent.site)) || (agent.group && p.policy.assign.groups.includes(agent.group)),
  );
  const fallback = set.policies.find((p) => p.policy.default) ?? set.policies[0];
  return (bySite ?? fallback) as LoadedPolicy;
}
