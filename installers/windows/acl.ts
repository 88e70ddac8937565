/**
 * The Windows security descriptors of the installed agent, as SDDL, in one place: acl.c
 * applies them (compiled in through the generated acl-sddl.h), unit tests read them here.
 *
 *   D:P       a protected DACL: nothing inherited from %ProgramData% (whose "Users: read &
 *             create" would otherwise reach the agent's token, queue and nudge keys)
 *   (owner)   left to the creating token: SYSTEM's default owner is Administrators. A folder
 *             owned by anyone but SYSTEM, Administrators or the service account was not made
 *             by the service and is replaced (acl.c)
 *   OICI      folders pass the entry on to the files and folders made inside them
 *   FA / FR   full access / read (files: read data, attributes, ACL; folders: list)
 *   SY BA     LocalSystem (the service), BUILTIN\Administrators
 *
 * Users get no entry at all on the data folders: they reach their own nudge folder through
 * the "bypass traverse checking" right every account holds, and read only that one.
 */

/** %ProgramData%\ConsultGuard, agent\, logs\: SYSTEM and Administrators only. */
export const SDDL_DATA_DIR = 'D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)';

/** nudge\: the same; each user's folder below it gets its own protected DACL. */
export const SDDL_NUDGE_ROOT = SDDL_DATA_DIR;

/** nudge\<user>\: SYSTEM and Administrators full, that user read (the key), nobody else. */
export const sddlUserDir = (userSid: string): string => {
  if (!/^S-1-5-21(-\d+){3,4}$|^S-1-5-\d+(-\d+)*$/.test(userSid)) throw new Error(`not a user SID: ${userSid}`);
  return `D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FR;;;${userSid})`;
};

/** agent.json (holds the enrolment secret): SYSTEM and Administrators, nothing inherited. */
export const SDDL_CONFIG = 'D:P(A;;FA;;;SY)(A;;FA;;;BA)';

const cString = (s: string): string => `L"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The C header acl.c and install-actions.c include (written beside the sources at build time). */
export function sddlHeader(): string {
  const userFmt = sddlUserDir('S-1-5-21-1-2-3-1000').replace('S-1-5-21-1-2-3-1000', '%ls');
  return [
    '/* Generated from installers/windows/acl.ts by msi.ts: edit acl.ts, not this file. */',
    '#ifndef CONSULTGUARD_ACL_SDDL_H',
    '#define CONSULTGUARD_ACL_SDDL_H',
    `#define CG_SDDL_DATA_DIR ${cString(SDDL_DATA_DIR)}`,
    `#define CG_SDDL_NUDGE_ROOT ${cString(SDDL_NUDGE_ROOT)}`,
    `#define CG_SDDL_USER_DIR_FMT ${cString(userFmt)}`,
    `#define CG_SDDL_CONFIG ${cString(SDDL_CONFIG)}`,
    '#endif',
    '',
  ].join('\n');
}
