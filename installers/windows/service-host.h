/*
 * Shared by the parts of consultguard-service.exe: service-host.c (the service, the
 * launchers, the entry point), helpers.c (a nudge helper in every user session) and
 * install-actions.c (what the MSI's custom actions and the agent run: write-config,
 * secure-dirs, user-dir, configure-service, stop-helpers, purge).
 */
#ifndef CONSULTGUARD_SERVICE_HOST_H
#define CONSULTGUARD_SERVICE_HOST_H
#define WIN32_LEAN_AND_MEAN
#define _WIN32_WINNT 0x0A00
#include <windows.h>

extern wchar_t install_dir[MAX_PATH]; /* folder of this exe, with trailing backslash */
extern wchar_t data_dir[MAX_PATH];    /* %ProgramData%\ConsultGuard */

void ensure_dirs(void);
void log_line(const char *fmt, ...);

int write_config(int argc, wchar_t **argv);
int stop_helpers(void);
int purge(void);
int secure_dirs(void);
int user_dir(const wchar_t *dir, const wchar_t *account);
int configure_service(const wchar_t *name);

void helpers_start(HANDLE stop_event);
void helpers_session_change(DWORD event, DWORD session);
void helpers_join(DWORD timeout_ms);

#endif
