/** The deb's systemd unit, autostart entry, control file and maintainer scripts. */

import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';

const PACKAGE = 'consultguard-agent';
export const OPT = '/opt/consultguard';
export const CONFIG_FILE = '/etc/consultguard/agent.json';
const UNIT = 'consultguard-agent.service';
export const UNIT_PATH = `/lib/systemd/system/${UNIT}`;
export const AUTOSTART_PATH = '/etc/xdg/autostart/consultguard-nudge-helper.desktop';
/** The app-menu entry "What ConsultGuard sees" (issue 14): Linux desktops have a menu, not a ConsultGuard tray icon. */
export const MENU_PATH = '/usr/share/applications/consultguard-transparency.desktop';
export const NODE = `${OPT}/node/bin/node`;
const AGENT = `${OPT}/app/agent.mjs`;

/**
 * Runs as root because it must read every user's /proc/PID entries (exe, cmdline, fd
 * links that tie sockets to processes); everything else is taken away. Deliberately
 * absent: ProtectProc=invisible and ProcSubset=pid (they would hide other users'
 * processes and /proc/net), MemoryDenyWriteExecute (V8's JIT needs it), PrivateNetwork.
 *
 * The capability bounding set is exactly what the code does as root, no more:
 * - CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE: list and read other users' /proc/PID/fd and
 *   exe (collect/), and pass through a user's 0700 nudge folder to reach the helper's socket;
 * - CAP_CHOWN: hand a user their nudge folder and key file (nudge/rendezvous.ts);
 * - CAP_KILL: enforce mode closes an app run by another user (nudge/enforce.ts).
 * Not needed, so not granted: CAP_DAC_OVERRIDE and CAP_FOWNER (the key is written in
 * the agent's own folder and the user's folder gets its mode before it is chowned; the
 * helper's socket is 0666 inside that 0700 folder).
 *
 * /var/lib/consultguard is 0711: users may pass through it to nudge/ (0711) and their own
 * nudge/<uid>/ (0700) and <uid>.key (0600), and list nothing; the agent keeps agent/ 0700.
 */
export const CAPABILITIES = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE', 'CAP_CHOWN', 'CAP_KILL'] as const;

export const unitFile = (): string => `[Unit]
Description=ConsultGuard agent (reports consumer video apps used during consult hours)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${[NODE, ...AGENT_NODE_FLAGS, AGENT].join(' ')} run --config ${CONFIG_FILE}
Restart=on-failure
RestartSec=10s
# SIGTERM first: the agent flushes its outbox and says goodbye to the server.
KillSignal=SIGTERM
TimeoutStopSec=20s
# /var/lib/consultguard: agent/ (identity, policy cache, outbox; 0700) and nudge/ (the
# users' rendezvous), and /var/log/consultguard.
StateDirectory=consultguard
StateDirectoryMode=0711
LogsDirectory=consultguard
LogsDirectoryMode=0750
UMask=0077
CapabilityBoundingSet=${CAPABILITIES.join(' ')}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;

/** `consultguard-agent status`, `scan --live` and friends for the admin at a shell. */
export const wrapper = (): string => `#!/bin/sh
exec ${NODE} ${AGENT} "$@"
`;

export const autostartEntry = (): string => `[Desktop Entry]
Type=Application
Name=ConsultGuard nudge helper
Comment=Shows ConsultGuard reminders to use the clinic's approved telehealth app
Exec=${NODE} ${AGENT} nudge-helper
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
`;

export const menuEntry = (): string => `[Desktop Entry]
Type=Application
Name=What ConsultGuard sees
Comment=What the clinic's ConsultGuard agent collects on this computer, when, who sees it and whom to ask
Exec=${NODE} ${AGENT} transparency --open
Icon=dialog-information
Terminal=false
Categories=Utility;Security;
`;

export const control = (version: string, installedKb: number): string => `Package: ${PACKAGE}
Version: ${version}
Architecture: amd64
Maintainer: ConsultGuard <support@consultguard.invalid>
Installed-Size: ${installedKb}
Section: admin
Priority: optional
Homepage: https://consultguard.invalid/
Description: ConsultGuard endpoint agent
 Watches, during consult hours only, for consumer video apps (FaceTime, WhatsApp,
 Zoom, Messenger, ...) used instead of the clinic's approved telehealth app and
 reports them to the clinic's ConsultGuard server. Ships its own Node.js runtime.
`;

// Every path goes through $DPKG_ROOT, and systemctl only runs when systemd manages this
// very root: `dpkg --root DIR --force-script-chrootless` (image builds, the tests) must
// never touch the host's files or services.
const systemdHere = '[ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]';

export const postinst = (): string => `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  chmod 600 "\${DPKG_ROOT:-}${CONFIG_FILE}"
  # Earlier versions made the state folder 0700, which kept users from their nudge folder.
  if [ -d "\${DPKG_ROOT:-}/var/lib/consultguard" ]; then chmod 711 "\${DPKG_ROOT:-}/var/lib/consultguard"; fi
  if ${systemdHere}; then
    systemctl daemon-reload
    systemctl enable ${UNIT} >/dev/null
    # Without a server URL the agent cannot run: enable it now, start it once configured.
    if grep -q '"serverUrl"' ${CONFIG_FILE}; then
      systemctl restart ${UNIT}
    else
      echo "consultguard-agent: set serverUrl in ${CONFIG_FILE}, then: systemctl start ${UNIT}" >&2
    fi
  fi
fi
exit 0
`;

export const prerm = (): string => `#!/bin/sh
set -e
if ${systemdHere}; then
  case "$1" in
    remove|upgrade|deconfigure) systemctl stop ${UNIT} || true ;;
  esac
  if [ "$1" = remove ]; then systemctl disable ${UNIT} >/dev/null || true; fi
fi
exit 0
`;

export const postrm = (): string => `#!/bin/sh
set -e
if ${systemdHere}; then
  systemctl daemon-reload || true
fi
# purge: the agent's identity, queued events and logs go too (dpkg removes the conffile).
if [ "$1" = purge ]; then
  rm -rf "\${DPKG_ROOT:-}/var/lib/consultguard" "\${DPKG_ROOT:-}/var/log/consultguard"
  rmdir "\${DPKG_ROOT:-}/etc/consultguard" 2>/dev/null || true
fi
exit 0
`;
