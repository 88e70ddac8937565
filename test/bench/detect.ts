/**
 * detect.snapshot_us: one snapshot of 400 processes and 1,000 connections matched against
 * the full catalog, with capture devices in use (by pid, path and package). Also measured with 20x as many address prefixes, to show the cost does
 * not grow with the number of prefixes.
 */
import { compileCatalog, detect } from '../../agent/detect/index.js';
import type { Catalog } from '../../shared/catalog.js';
import { builtinPoliciesDir } from '../../shared/paths.js';
import { loadPolicies } from '../../shared/policy-load.js';
import type { Snapshot } from '../../shared/snapshot.js';
import { median, round, type BenchResults } from './results.js';

function syntheticSnapshot(): Snapshot {
  const names = ['svchost.exe', 'chrome.exe', 'msedge.exe', 'EMR.exe', 'OUTLOOK.EXE', 'explorer.exe', 'RuntimeBroker.exe', 'dllhost.exe'];
  const processes = Array.from({ length: 400 }, (_, i) => ({
    pid: 1000 + i, ppid: 4, name: names[i % names.length]!, path: `C:\\Program Files\\Vendor${i}\\${names[i % names.length]}`, cmd: `"C:\\x\\${i}.exe" --flag`, user: 'CLINIC\\dr.lee',
  }));
  processes[10] = { pid: 1010, ppid: 4, name: 'Zoom.exe', path: 'C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe', cmd: 'Zoom.exe', user: 'CLINIC\\dr.lee' };
  const connections = Array.from({ length: 1000 }, (_, i) => ({
    pid: 1000 + (i % 400), protocol: (i % 3 ? 'tcp' : 'udp') as 'tcp' | 'udp',
    localAddress: '10.2.0.15', localPort: 40000 + i,
    // Mostly the wider internet, some private, a few to app ranges.
    remoteAddress: i % 50 === 0 ? `170.114.${i % 256}.20` : i % 7 === 0 ? `10.0.${i % 256}.1` : `${(i * 37) % 223 + 1}.${(i * 11) % 256}.${i % 256}.${(i * 3) % 256}`,
    remotePort: i % 50 === 0 ? 8801 : 443, state: 'ESTABLISHED',
  }));
  // Capture devices in use, named every way the collectors name them: by pid (Zoom in a call, a browser, some
  // other process), by executable path (also in the capability-store '#' form) and by package family name.
  const devices: Snapshot['devices'] = [
    { kind: 'camera', pid: 1010 }, { kind: 'microphone', pid: 1010 },
    { kind: 'camera', pid: 1001 }, { kind: 'microphone', pid: 1009 },
    { kind: 'microphone', path: processes[2]!.path! },
    { kind: 'camera', path: 'C:#Program Files#Vendor7#OUTLOOK.EXE' },
    { kind: 'camera', package: '5319275A.WhatsAppDesktop_cv1g1gvanyjgm' },
    { kind: 'microphone', package: 'Microsoft.WindowsCamera_8wekyb3d8bbwe' },
  ];
  return { v: 1, platform: 'win32', hostname: 'BENCH', takenAt: new Date().toISOString(), processes, connections, devices };
}

function inflate(catalog: Catalog, factor: number): Catalog {
  // Extra prefixes in unused documentation-like space, spread over many prefix lengths.
  const apps = catalog.apps.map((a, ai) => ({
    ...a,
    network: a.network && {
      ...a.network,
      ranges: [
        ...a.network.ranges,
        ...Array.from({ length: a.network.ranges.length * (factor - 1) }, (_, i) => ({ cidr: `${100 + (ai % 20)}.${(i >> 8) & 255}.${i & 255}.0/${20 + (i % 5)}` })),
      ],
    },
  }));
  return { ...catalog, apps };
}

/** Median CPU time (user + system) per call: less disturbed than wall time when other work shares the cores. */
function cpuPerCall(fn: () => void, rounds: number, perRound: number): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const u0 = process.cpuUsage();
    for (let i = 0; i < perRound; i++) fn();
    const u = process.cpuUsage(u0);
    samples.push((u.user + u.system) / perRound);
  }
  return median(samples);
}

function timePerCall(fn: () => void, rounds: number, perRound: number): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000 / perRound);
  }
  return median(samples);
}

export function benchDetect(): BenchResults {
  const policy = loadPolicies(builtinPoliciesDir()).policies[0]!.effective;
  const snapshot = syntheticSnapshot();
  const compiled = compileCatalog(policy.catalog);
  const big = compileCatalog(inflate(policy.catalog, 20));
  const prefixes = compiled.prefixes.size;
  // Warm up (JIT, and the per-address memo a real agent also has between polls).
  for (let i = 0; i < 200; i++) {
    detect(snapshot, compiled);
    detect(snapshot, big);
  }
  const us = timePerCall(() => detect(snapshot, compiled), 30, 50);
  const usBig = timePerCall(() => detect(snapshot, big), 30, 50);
  const cpu = cpuPerCall(() => detect(snapshot, compiled), 30, 50);
  // Cold: a fresh compile each time, so no address is memoised (the first poll of a day).
  const cold = timePerCall(() => detect(snapshot, compileCatalog(policy.catalog)), 10, 5);
  return {
    'detect.snapshot_us': {
      value: round(us, 1),
      unit: 'µs',
      note: `median per snapshot (400 processes, 1,000 connections, ${snapshot.devices?.length ?? 0} capture devices, ${policy.catalog.apps.length} apps, ${prefixes} prefixes; CPU ${round(cpu, 1)} µs); with 20x the prefixes (${big.prefixes.size}): ${round(usBig, 1)} µs (x${round(usBig / us)}); first poll incl. compiling the catalog: ${round(cold, 1)} µs`,
    },
  };
}
