/*
 * Shared by the two halves of consultguard-service.exe: service-host.c (the service, the
 * nudge-helper launcher, the entry point) and install-actions.c (what the MSI's custom
 * actions run: write-config, stop-helpers, purge).
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

#endif
