/**
 * The pkg's preinstall and postinstall, and the uninstall script it leaves behind. The
 * installer passes the target volume as $3; launchd is only touched when that is the
 * running system ("/"), so installing onto another volume (imaging) just lays down files.
 */
import { CONFIG_FILE, DAEMON_LABEL, DAEMON_PLIST, HELPER_LABEL, HELPER_PLIST, INSTALL_ROOT, LOG_DIR } from './launchd.js';

export const PKG_IDENTIFIER = 'com.consultguard.agent';

/** Boots the helper out of (or into) the session of the user at the console, if any. */
const consoleUser = `CONSOLE_UID="$(/usr/bin/stat -f %u /dev/console 2>/dev/null || echo 0)"`;

export const preinstall = (): string => `#!/bin/sh
# Upgrade: stop the running agent and helper so their files can be replaced.
TARGET="\${3:-/}"
if [ "$TARGET" = "/" ]; then
  /bin/launchctl bootout system/${DAEMON_LABEL} 2>/dev/null || true
  ${consoleUser}
  if [ "$CONSOLE_UID" -gt 0 ] 2>/dev/null; then
    /bin/launchctl bootout "gui/$CONSOLE_UID/${HELPER_LABEL}" 2>/dev/null || true
  fi
fi
exit 0
`;

export const postinstall = (): string => `#!/bin/sh
# Fix what the payload cannot promise on an existing system, then start the agent and,
# for the user at the console, the nudge helper (other users get it at their next login).
TARGET="\${3:-/}"
T="\${TARGET%/}"
/bin/mkdir -p "$T${LOG_DIR}"
/bin/chmod 755 "$T${LOG_DIR}"
if [ -f "$T${CONFIG_FILE}" ]; then
  /usr/sbin/chown root:wheel "$T${CONFIG_FILE}"
  /bin/chmod 600 "$T${CONFIG_FILE}"
fi
/usr/sbin/chown root:wheel "$T${DAEMON_PLIST}" "$T${HELPER_PLIST}"
/bin/chmod 644 "$T${DAEMON_PLIST}" "$T${HELPER_PLIST}"
if [ "$TARGET" = "/" ]; then
  /bin/launchctl bootstrap system "${DAEMON_PLIST}" 2>/dev/null || /bin/launchctl kickstart -k system/${DAEMON_LABEL}
  ${consoleUser}
  if [ "$CONSOLE_UID" -gt 0 ] 2>/dev/null; then
    /bin/launchctl bootstrap "gui/$CONSOLE_UID" "${HELPER_PLIST}" 2>/dev/null || true
  fi
fi
exit 0
`;

export const uninstallScript = (): string => `#!/bin/sh
# Removes the ConsultGuard agent from this Mac:
#   sudo "${INSTALL_ROOT}/uninstall.sh"
# Stops the agent and every user's nudge helper, then deletes the program, its settings,
# its state (identity and queued events) and its logs.
if [ "$(/usr/bin/id -u)" != 0 ]; then
  echo "uninstall.sh: run it as root: sudo \\"$0\\"" >&2
  exit 1
fi
/bin/launchctl bootout system/${DAEMON_LABEL} 2>/dev/null || true
for uid in $(/bin/ps -axo uid= -o comm= | /usr/bin/awk '$2 ~ /loginwindow$/ { print $1 }' | /usr/bin/sort -u); do
  /bin/launchctl bootout "gui/$uid/${HELPER_LABEL}" 2>/dev/null || true
done
/bin/rm -f "${DAEMON_PLIST}" "${HELPER_PLIST}"
/bin/rm -rf "${INSTALL_ROOT}" "${LOG_DIR}"
/usr/sbin/pkgutil --forget ${PKG_IDENTIFIER} >/dev/null 2>&1 || true
echo "ConsultGuard agent removed."
`;
