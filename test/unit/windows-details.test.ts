/**
 * Windows process details (path, command line, owner) from one CIM query: the fallback when
 * the native collector is unavailable (test/unit/win-native.test.ts shows the native path
 * never falls back while it works). Windows cannot run here: the runner is replaced, and the
 * script and parsing are checked.
 */
import { describe, expect, it } from 'vitest';
import { createWindowsDetails, detailsScript, parseDetails } from '../../agent/collect/windows-details.js';
import { createPsListCollector } from '../../agent/collect/processes.js';

describe('Windows process details', () => {
  it('asks CIM for exactly the wanted pids, with owners as DOMAIN\\user', () => {
    const script = detailsScript([4120, 6010]);
    expect(script).toContain("Get-CimInstance Win32_Process -Filter 'ProcessId=4120 OR ProcessId=6010'");
    expect(script).toContain('GetOwner');
    expect(script).toContain('ConvertTo-Json -Compress');
  });

  it('parses one object or an array, and skips empty fields', () => {
    expect(parseDetails('{"pid":4120,"path":"C:\\\\Zoom\\\\bin\\\\Zoom.exe","cmd":"Zoom.exe","user":"CLINIC\\\\dr.lee"}').get(4120))
      .toEqual({ path: 'C:\\Zoom\\bin\\Zoom.exe', cmd: 'Zoom.exe', user: 'CLINIC\\dr.lee' });
    const many = parseDetails('[{"pid":1,"path":null,"cmd":"","user":null},{"pid":2,"path":"C:\\\\x.exe"}]');
    expect(many.get(1)).toEqual({});
    expect(many.get(2)).toEqual({ path: 'C:\\x.exe' });
    expect(parseDetails('').size).toBe(0);
  });

  it('queries only new processes and forgets exited ones', async () => {
    const calls: string[][] = [];
    const details = createWindowsDetails(async (_file, args) => {
      calls.push(args);
      const pids = [...args[3]!.matchAll(/ProcessId=(\d+)/g)].map((m) => Number(m[1]));
      return JSON.stringify(pids.map((pid) => ({ pid, path: `C:\\app${pid}.exe`, user: 'CLINIC\\u' })));
    });
    expect((await details([{ pid: 1, name: 'Zoom.exe' }, { pid: 2, name: 'chrome.exe' }])).get(1)).toEqual({ path: 'C:\\app1.exe', user: 'CLINIC\\u' });
    await details([{ pid: 1, name: 'Zoom.exe' }, { pid: 2, name: 'chrome.exe' }]);
    expect(calls).toHaveLength(1); // all cached
    await details([{ pid: 1, name: 'Zoom.exe' }, { pid: 3, name: 'Zoom.exe' }]);
    expect(calls).toHaveLength(2);
    expect(calls[1]![3]).toContain('ProcessId=3');
    expect(calls[1]![3]).not.toContain('ProcessId=1');
    // pid 1 reused by another program: asked again.
    await details([{ pid: 1, name: 'notepad.exe' }]);
    expect(calls[2]![3]).toContain('ProcessId=1');
  });

  it('is not used off Windows', async () => {
    const list = await createPsListCollector(undefined, 'linux')(() => true);
    expect(list.some((p) => p.pid === process.pid)).toBe(true);
  });
});
