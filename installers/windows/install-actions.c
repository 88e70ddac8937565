/* The MSI's custom actions (see wxs.ts); they run as SYSTEM from the installed exe. */
#include "service-host.h"
#include <sddl.h>
#include <stdio.h>
#include <string.h>
#include <tlhelp32.h>
#include <wchar.h>

#include "acl-sddl.h"

void delete_tree(const wchar_t *dir); /* acl.c: never follows a link */

/* JSON string body of `s` (UTF-8), escaped; returns bytes written. */
static int json_escape(const wchar_t *s, char *out, int cap) {
  char utf8[1024];
  int n = 0, i, len = WideCharToMultiByte(CP_UTF8, 0, s, -1, utf8, sizeof utf8, NULL, NULL);
  for (i = 0; i < len - 1 && n < cap - 7; i++) {
    unsigned char c = (unsigned char)utf8[i];
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += snprintf(out + n, cap - n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = 0;
  return n;
}

static void add_field(char *json, int cap, const char *key, const wchar_t *value) {
  char esc[2048];
  size_t n;
  if (value == NULL || value[0] == 0) return;
  json_escape(value, esc, sizeof esc);
  n = strlen(json);
  snprintf(json + n, cap - n, "%s\n  \"%s\": \"%s\"", n > 1 ? "," : "", key, esc);
}

/*
 * Writes agent.json through a temporary file created with the restrictive ACL, then
 * renames it over the old one (the ACL moves with it): the secret is never readable by
 * Users, not even briefly. Empty values are left out, so the agent's defaults apply.
 */
int write_config(int argc, wchar_t **argv) {
  const wchar_t *url = NULL, *secret = NULL, *site = NULL;
  char json[8192] = "{";
  wchar_t path[MAX_PATH], tmp[MAX_PATH];
  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, FALSE};
  HANDLE h;
  DWORD written;
  int i;
  for (i = 2; i + 1 < argc; i += 2) {
    if (wcscmp(argv[i], L"--server-url") == 0) url = argv[i + 1];
    else if (wcscmp(argv[i], L"--enroll-secret") == 0) secret = argv[i + 1];
    else if (wcscmp(argv[i], L"--site") == 0) site = argv[i + 1];
    else {
      log_line("write-config: unknown option %ls", argv[i]);
      return 2;
    }
  }
  add_field(json, sizeof json, "serverUrl", url);
  add_field(json, sizeof json, "enrollSecret", secret);
  add_field(json, sizeof json, "site", site);
  strncat(json, strlen(json) > 1 ? "\n}\n" : "}\n", sizeof json - strlen(json) - 1);

  if (secure_dirs() != 0) log_line("write-config: %ls is not fully locked down (see above)", data_dir);
  swprintf(path, MAX_PATH, L"%ls\\agent.json", data_dir);
  swprintf(tmp, MAX_PATH, L"%ls\\agent.json.tmp", data_dir);
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(CG_SDDL_CONFIG, SDDL_REVISION_1, &sa.lpSecurityDescriptor, NULL)) {
    log_line("write-config: cannot build the config file ACL (error %lu)", GetLastError());
    return 1;
  }
  h = CreateFileW(tmp, GENERIC_WRITE, 0, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  LocalFree(sa.lpSecurityDescriptor);
  if (h == INVALID_HANDLE_VALUE) {
    log_line("write-config: cannot create %ls (error %lu)", tmp, GetLastError());
    return 1;
  }
  if (!WriteFile(h, json, (DWORD)strlen(json), &written, NULL) || !FlushFileBuffers(h)) {
    log_line("write-config: cannot write %ls (error %lu)", tmp, GetLastError());
    CloseHandle(h);
    return 1;
  }
  CloseHandle(h);
  if (!MoveFileExW(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    log_line("write-config: cannot replace %ls (error %lu)", path, GetLastError());
    return 1;
  }
  log_line("write-config: wrote %ls (server %ls, site %ls, secret %ls)", path, url && url[0] ? url : L"-", site && site[0] ? site : L"-",
           secret && secret[0] ? L"set" : L"not set");
  return 0;
}

/* Ends every process whose program lives in the install folder, except this one, so that
   uninstall and upgrade can replace node.exe without asking for a reboot. */
int stop_helpers(void) {
  PROCESSENTRY32W pe;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  size_t dir_len = wcslen(install_dir);
  int stopped = 0;
  if (snap == INVALID_HANDLE_VALUE) return 0;
  pe.dwSize = sizeof pe;
  for (BOOL ok = Process32FirstW(snap, &pe); ok; ok = Process32NextW(snap, &pe)) {
    wchar_t image[MAX_PATH];
    DWORD len = MAX_PATH;
    HANDLE h;
    if (pe.th32ProcessID == GetCurrentProcessId()) continue;
    h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pe.th32ProcessID);
    if (h == NULL) continue;
    if (QueryFullProcessImageNameW(h, 0, image, &len) && _wcsnicmp(image, install_dir, dir_len) == 0) {
      TerminateProcess(h, 0);
      WaitForSingleObject(h, 3000);
      stopped++;
    }
    CloseHandle(h);
  }
  CloseHandle(snap);
  if (stopped > 0) log_line("stop-helpers: ended %d process(es) running from %ls", stopped, install_dir);
  return 0;
}

/* Real uninstall: the agent's identity, queued events, nudge keys and logs go. Only the folders
   the agent writes are touched, and a junction among them is removed, not followed (acl.c);
   agent.json is removed by the MSI's own RemoveFile row. */
int purge(void) {
  static const wchar_t *subdirs[] = {L"agent", L"logs", L"nudge"};
  wchar_t path[MAX_PATH];
  for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
    swprintf(path, MAX_PATH, L"%ls\\%ls", data_dir, subdirs[i]);
    delete_tree(path);
  }
  swprintf(path, MAX_PATH, L"%ls\\agent.json.tmp", data_dir);
  DeleteFileW(path);
  return 0;
}


/* SCM failure actions (wixl has no ServiceConfig element): restart after 5 s, 15 s, then
   every 60 s; the count resets after a day without failure. The flag makes a stop with an
   error exit code count as a failure too, not only a crash. */
int configure_service(const wchar_t *name) {
  SC_ACTION actions[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 15000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, actions};
  SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT), svc;
  int rc = 0;
  if (scm == NULL) {
    log_line("configure-service: cannot open the service manager (error %lu)", GetLastError());
    return 1;
  }
  svc = OpenServiceW(scm, name, SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (svc == NULL) {
    log_line("configure-service: cannot open service %ls (error %lu)", name, GetLastError());
    CloseServiceHandle(scm);
    return 1;
  }
  if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
    log_line("configure-service: cannot set failure actions (error %lu)", GetLastError());
    rc = 1;
  } else if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    log_line("configure-service: failure actions set; cannot set the non-crash flag (error %lu)", GetLastError());
  } else {
    log_line("configure-service: %ls restarts after a failure (5 s, 15 s, then 60 s)", name);
  }
  CloseServiceHandle(svc);
  CloseServiceHandle(scm);
  return rc;
}
