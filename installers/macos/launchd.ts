/**
 * What launchd runs: the LaunchDaemon (the agent, as root, always), the LaunchAgent (the
 * nudge helper, in every GUI login) and the launcher script both call.
 */
import { xmlEscape } from '../files.js';
import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';

export const INSTALL_ROOT = '/Library/Application Support/ConsultGuard';
export const CONFIG_FILE = `${INSTALL_ROOT}/agent.json`;
export const LOG_DIR = '/Library/Logs/ConsultGuard';
export const DAEMON_LABEL = 'com.consultguard.agent';
export const HELPER_LABEL = 'com.consultguard.nudge-helper';
export const DAEMON_PLIST = `/Library/LaunchDaemons/${DAEMON_LABEL}.plist`;
export const HELPER_PLIST = `/Library/LaunchAgents/${HELPER_LABEL}.plist`;
/** Written by an MDM configuration profile for the preference domain com.consultguard.agent. */
export const MANAGED_PREFS = '/Library/Managed Preferences/com.consultguard.agent.plist';
export const LAUNCHER = `${INSTALL_ROOT}/bin/consultguard-agent`;

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plistValue(v: PlistValue, indent: string): string {
  if (typeof v === 'string') return `${indent}<string>${xmlEscape(v)}</string>`;
  if (typeof v === 'number') return `${indent}<integer>${v}</integer>`;
  if (typeof v === 'boolean') return `${indent}<${v}/>`;
  if (Array.isArray(v)) return `${indent}<array>\n${v.map((x) => plistValue(x, `${indent}  `)).join('\n')}\n${indent}</array>`;
  const body = Object.entries(v).map(([k, x]) => `${indent}  <key>${xmlEscape(k)}</key>\n${plistValue(x, `${indent}  `)}`);
  return `${indent}<dict>\n${body.join('\n')}\n${indent}</dict>`;
}

export function plist(dict: { [key: string]: PlistValue }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
${plistValue(dict, '')}
</plist>
`;
}

export const daemonPlist = (): string =>
  plist({
    Label: DAEMON_LABEL,
    ProgramArguments: [LAUNCHER, 'run', '--config', CONFIG_FILE],
    RunAtLoad: true,
    KeepAlive: true,
    // launchd waits this long between restarts of a crashing agent.
    ThrottleInterval: 10,
    // SIGTERM, then this many seconds for the agent to flush its outbox before SIGKILL.
    ExitTimeOut: 15,
    StandardOutPath: `${LOG_DIR}/service.log`,
    StandardErrorPath: `${LOG_DIR}/service.log`,
  });

export const helperPlist = (): string =>
  plist({
    Label: HELPER_LABEL,
    ProgramArguments: [LAUNCHER, 'nudge-helper'],
    RunAtLoad: true,
    // Restart after a crash, not after a clean exit (the user quit it).
    KeepAlive: { SuccessfulExit: false },
    LimitLoadToSessionType: 'Aqua',
    ProcessType: 'Interactive',
    ThrottleInterval: 30,
  });

/**
 * Picks the node binary for this CPU on every start (not once at install), so an image
 * restored or migrated to a Mac of the other architecture still runs. For `run` as root,
 * a managed-preferences file from MDM, when present, becomes agent.json first: settings
 * pushed after the pkg was installed apply at the next start.
 */
export const launcherScript = (): string => `#!/bin/sh
# ConsultGuard agent launcher (installed by consultguard-agent.pkg).
set -eu
ROOT="${INSTALL_ROOT}"
case "$(/usr/bin/uname -m)" in
  arm64) NODE="$ROOT/runtime/darwin-arm64/bin/node" ;;
  *) NODE="$ROOT/runtime/darwin-x64/bin/node" ;;
esac
MANAGED="${MANAGED_PREFS}"
if [ "\${1:-}" = run ] && [ "$(/usr/bin/id -u)" = 0 ] && [ -f "$MANAGED" ]; then
  umask 077
  if /usr/bin/plutil -convert json -o "$ROOT/agent.json.tmp" "$MANAGED"; then
    /bin/mv -f "$ROOT/agent.json.tmp" "$ROOT/agent.json"
  else
    echo "consultguard: $MANAGED is not convertible to JSON; keeping the current agent.json" >&2
  fi
fi
exec "$NODE" ${AGENT_NODE_FLAGS.join(' ')} "$ROOT/app/agent.mjs" "$@"
`;
