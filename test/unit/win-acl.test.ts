/**
 * The security descriptors the installer and the service put on %ProgramData%\ConsultGuard
 * (installers/windows/acl.ts, compiled into the service host as acl-sddl.h). Wine does not
 * enforce ACLs, so the strings themselves are checked here, ACE by ACE; the pilot checks the
 * result on Windows with icacls (installers/README.md).
 */
import { describe, expect, it } from 'vitest';
import { icaclsArgs, userDirCommand } from '../../agent/nudge/windows.js';
import { systemTool } from '../../agent/system-tools.js';
import { SDDL_CONFIG, SDDL_DATA_DIR, SDDL_NUDGE_ROOT, sddlHeader, sddlUserDir } from '../../installers/windows/acl.js';

interface Ace { type: string; flags: string; rights: string; sid: string }

/** `D:P(A;OICI;FA;;;SY)...` -> protected flag and ACEs; throws on anything else (no owner, SACL or deny games). */
function parseDacl(sddl: string): { protectedDacl: boolean; aces: Ace[] } {
  const m = /^D:(P?)((?:\([^()]*\))+)$/.exec(sddl);
  if (!m) throw new Error(`not a plain DACL: ${sddl}`);
  const aces = [...m[2]!.matchAll(/\(([^()]*)\)/g)].map((a) => {
    const [type, flags, rights, objectGuid, inheritGuid, sid, ...rest] = a[1]!.split(';');
    if (rest.length || objectGuid || inheritGuid || sid === undefined) throw new Error(`unexpected ACE ${a[0]}`);
    return { type: type!, flags: flags!, rights: rights!, sid };
  });
  return { protectedDacl: m[1] === 'P', aces };
}

const USER_SID = 'S-1-5-21-3623811015-3361044348-30300820-1013';
const EVERYONE_ISH = ['WD', 'BU', 'AU', 'IU', 'S-1-1-0', 'S-1-5-32-545', 'S-1-5-11', 'S-1-5-4', 'CO', 'OW'];

describe('ConsultGuard ACLs (SDDL)', () => {
  it('data folders: protected (nothing from ProgramData), SYSTEM and Administrators full, inherited by what the agent writes', () => {
    for (const sddl of [SDDL_DATA_DIR, SDDL_NUDGE_ROOT]) {
      const d = parseDacl(sddl);
      expect(d.protectedDacl).toBe(true);
      expect(d.aces).toEqual([{ type: 'A', flags: 'OICI', rights: 'FA', sid: 'SY' }, { type: 'A', flags: 'OICI', rights: 'FA', sid: 'BA' }]);
    }
  });

  it('a user\'s nudge folder: that user may read (the key), no one else but SYSTEM and Administrators', () => {
    const d = parseDacl(sddlUserDir(USER_SID));
    expect(d.protectedDacl).toBe(true);
    expect(d.aces).toEqual([
      { type: 'A', flags: 'OICI', rights: 'FA', sid: 'SY' },
      { type: 'A', flags: 'OICI', rights: 'FA', sid: 'BA' },
      { type: 'A', flags: 'OICI', rights: 'FR', sid: USER_SID },
    ]);
    expect(() => sddlUserDir('S-1-5-21-1)(A;;FA;;;WD')).toThrow(/not a user SID/);
  });

  it('agent.json (the secret): SYSTEM and Administrators only, not inheriting', () => {
    expect(parseDacl(SDDL_CONFIG)).toEqual({ protectedDacl: true, aces: [{ type: 'A', flags: '', rights: 'FA', sid: 'SY' }, { type: 'A', flags: '', rights: 'FA', sid: 'BA' }] });
  });

  it('grants nothing to Everyone, Users, Authenticated Users, Interactive or the creator', () => {
    for (const sddl of [SDDL_DATA_DIR, SDDL_NUDGE_ROOT, SDDL_CONFIG, sddlUserDir(USER_SID)]) {
      for (const ace of parseDacl(sddl).aces) expect(EVERYONE_ISH).not.toContain(ace.sid);
    }
  });

  it('is what the service host is compiled with', () => {
    const h = sddlHeader();
    expect(h).toContain(`#define CG_SDDL_DATA_DIR L"${SDDL_DATA_DIR}"`);
    expect(h).toContain(`#define CG_SDDL_CONFIG L"${SDDL_CONFIG}"`);
    expect(h).toContain('#define CG_SDDL_USER_DIR_FMT L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FR;;;%ls)"');
  });

  it('the agent makes a user folder through the service host when installed, else System32 icacls (by full path) with the same grants', () => {
    expect(userDirCommand('C:\\ProgramData\\ConsultGuard\\nudge\\dr.lee', 'CLINIC\\dr.lee', 'C:\\Program Files\\ConsultGuard\\consultguard-service.exe')).toEqual({
      cmd: 'C:\\Program Files\\ConsultGuard\\consultguard-service.exe', args: ['user-dir', 'C:\\ProgramData\\ConsultGuard\\nudge\\dr.lee', 'CLINIC\\dr.lee'],
    });
    expect(userDirCommand('C:\\x', 'CLINIC\\dr.lee', null)).toEqual({ cmd: systemTool('icacls', 'win32'), args: icaclsArgs('C:\\x', 'CLINIC\\dr.lee') });
  });
});
