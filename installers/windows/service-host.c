/*
 * consultguard-service.exe: the Windows side of the agent that node.exe cannot do itself.
 *
 *   consultguard-service.exe              run as the service "ConsultGuardAgent" (SCM starts it)
 *   consultguard-service.exe write-config --server-url U --enroll-secret S --site N
 *                                         write %ProgramData%\ConsultGuard\agent.json (MSI custom action)
 *   consultguard-service.exe nudge-helper start the per-user nudge helper without a console window (by hand;
 *                                         the service starts one in every session itself, helpers.c)
 *   consultguard-service.exe open-url URL the consultguard: URL handler (toast buttons): hands a checked URL
 *                                         to `node agent.mjs nudge-helper --handle-url URL`, no console window
 *   consultguard-service.exe notify-state print whether Windows would show a toast now (user context)
 *   consultguard-service.exe about        what ConsultGuard is (the Start-menu shortcut's target)
 *   consultguard-service.exe stop-helpers end every other process started from the install folder
 *   consultguard-service.exe secure-dirs  create %ProgramData%\ConsultGuard and its folders, locked down
 *   consultguard-service.exe user-dir ROOT USER  a user's nudge folder, readable by that user only
 *   consultguard-service.exe configure-service   SCM failure actions: restart the service when it dies
 *   consultguard-service.exe purge        delete the agent's state and logs (real uninstall only)
 *
 * As a service it starts `node.exe app\agent.mjs run --config ...\agent.json` in a job
 * object that kills node when this host ends (however it ends), sends its output to
 * logs\service.log (node dies with EBADF on some pipes, and a file survives the process),
 * restarts it after a doubling back-off when it exits, and supervises the nudge helpers.
 *
 * node runs DETACHED (no console at all): a console process of a service receives
 * CTRL_LOGOFF_EVENT / CTRL_SHUTDOWN_EVENT when any user logs off, and libuv leaves those to
 * the default handler, which ends the process (libuv win/signal.c returns FALSE for them),
 * so the agent would stop whenever a clinician logs off. Without a console there is no
 * Ctrl+C either: a stop is asked for over a named pipe with a random name and token that
 * only this host and node know (environment CONSULTGUARD_STOP_PIPE / _TOKEN, read and
 * removed by agent/service-stop.ts); after the grace period the job is terminated.
 *
 * Built GUI-subsystem (-mwindows) so nothing started in a user's session flashes a console.
 * Build (msi.ts, which first writes the generated acl-sddl.h and node-flags.h into GEN):
 *   x86_64-w64-mingw32-gcc -municode -mwindows -O2 -s -I GEN service-host.c helpers.c install-actions.c acl.c
 *     -lshell32 -ladvapi32 -lwtsapi32 -luserenv -lbcrypt
 */
#include "service-host.h"
#include "node-flags.h"
#include <bcrypt.h>
#include <shellapi.h>
#include <shlobj.h>
#include <stdio.h>
#include <wchar.h>
#include <wtsapi32.h>

#define SERVICE_NAME L"ConsultGuardAgent"
/* Windows gives a service about 20 s to stop, and only ~5 s at shutdown
   (WaitToKillServiceTimeout): the grace periods stay inside both, with wait hints. */
#define STOP_GRACE_MS 8000
#define SHUTDOWN_GRACE_MS 3000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STABLE_RUN_MS 60000
#define LOG_ROTATE_BYTES (10 * 1024 * 1024)

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;
static volatile LONG shutting_down;
wchar_t install_dir[MAX_PATH];
wchar_t data_dir[MAX_PATH];
static wchar_t log_path[MAX_PATH];
static wchar_t stop_pipe[96];
static char stop_token[65];

static void init_paths(void) {
  wchar_t program_data[MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, install_dir, MAX_PATH);
  while (n > 0 && install_dir[n - 1] != L'\\') n--;
  install_dir[n] = 0;
  if (SHGetFolderPathW(NULL, CSIDL_COMMON_APPDATA, NULL, 0, program_data) != S_OK) wcscpy(program_data, L"C:\\ProgramData");
  /* The agent puts its state and logs under %ProgramData%; make that the folder the installer
     and this host use (they agree on Windows; under wine a service's variable differs). */
  SetEnvironmentVariableW(L"ProgramData", program_data);
  swprintf(data_dir, MAX_PATH, L"%ls\\ConsultGuard", program_data);
  swprintf(log_path, MAX_PATH, L"%ls\\logs\\service.log", data_dir);
}

/* Keeps service.log bounded: one previous file is kept as service.log.1. */
static void rotate_log(void) {
  WIN32_FILE_ATTRIBUTE_DATA a;
  wchar_t old[MAX_PATH];
  if (!GetFileAttributesExW(log_path, GetFileExInfoStandard, &a)) return;
  if (a.nFileSizeHigh == 0 && a.nFileSizeLow < LOG_ROTATE_BYTES) return;
  swprintf(old, MAX_PATH, L"%ls.1", log_path);
  MoveFileExW(log_path, old, MOVEFILE_REPLACE_EXISTING);
}

static HANDLE open_log(BOOL inheritable) {
  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, inheritable};
  wchar_t dir[MAX_PATH];
  DWORD attrs;
  /* Never write through a link planted in place of logs\ (secure-dirs replaces it; if it
     could not, the log is dropped rather than written wherever the link points). */
  swprintf(dir, MAX_PATH, L"%ls\\logs", data_dir);
  attrs = GetFileAttributesW(dir);
  if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_REPARSE_POINT)) return INVALID_HANDLE_VALUE;
  return CreateFileW(log_path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa, OPEN_ALWAYS,
                     FILE_ATTRIBUTE_NORMAL, NULL);
}

void log_line(const char *fmt, ...) {
  char buf[1024];
  SYSTEMTIME t;
  va_list ap;
  int n;
  DWORD written;
  HANDLE h = open_log(FALSE);
  if (h == INVALID_HANDLE_VALUE) return;
  GetSystemTime(&t);
  n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ consultguard-service: ", t.wYear, t.wMonth, t.wDay, t.wHour,
               t.wMinute, t.wSecond);
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - n - 2, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\r';
  buf[n++] = '\n';
  WriteFile(h, buf, n, &written, NULL);
  CloseHandle(h);
}

static void report(DWORD state, DWORD wait_hint) {
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_SESSIONCHANGE : 0;
  status.dwWin32ExitCode = NO_ERROR;
  status.dwWaitHint = wait_hint;
  status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : status.dwCheckPoint + 1;
  SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID context) {
  (void)context;
  switch (control) {
    case SERVICE_CONTROL_SHUTDOWN:
      InterlockedExchange(&shutting_down, 1);
      /* fall through */
    case SERVICE_CONTROL_STOP:
      report(SERVICE_STOP_PENDING, 2000);
      SetEvent(stop_event);
      return NO_ERROR;
    case SERVICE_CONTROL_SESSIONCHANGE:
      if (data) helpers_session_change(type, ((WTSSESSION_NOTIFICATION *)data)->dwSessionId);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

/* Hex of `n` random bytes from the system RNG into out (2n+1 chars). */
static BOOL random_hex(char *out, int n) {
  unsigned char b[32];
  if (n > 32 || BCryptGenRandom(NULL, b, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
  for (int i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
  return TRUE;
}

/* A fresh stop pipe name and token for each node started, in the environment node inherits. */
static void new_stop_channel(void) {
  char name[17];
  wchar_t token[65];
  if (!random_hex(name, 8) || !random_hex(stop_token, 32)) {
    stop_pipe[0] = 0;
    return;
  }
  swprintf(stop_pipe, 96, L"\\\\.\\pipe\\consultguard-agent-stop-%hs", name);
  swprintf(token, 65, L"%hs", stop_token);
  SetEnvironmentVariableW(L"CONSULTGUARD_STOP_PIPE", stop_pipe);
  SetEnvironmentVariableW(L"CONSULTGUARD_STOP_TOKEN", token);
}

/* Starts node with `args` (after the script path) inside `job`; output to `out` when given. */
static BOOL start_node(const wchar_t *args, HANDLE out, DWORD flags, HANDLE job, PROCESS_INFORMATION *pi) {
  wchar_t cmd[2048];
  STARTUPINFOW si;
  ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  if (out != NULL) {
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = NULL;
    si.hStdOutput = out;
    si.hStdError = out;
  }
  /* The V8 flags of shared/node-flags.ts (generated header), as on Linux and macOS. */
  swprintf(cmd, 2048, L"\"%lsnode\\node.exe\" " CG_NODE_FLAGS L" \"%lsapp\\agent.mjs\" %ls", install_dir, install_dir, args);
  if (!CreateProcessW(NULL, cmd, NULL, NULL, out != NULL, flags | (job ? CREATE_SUSPENDED : 0), NULL, install_dir, &si, pi)) return FALSE;
  if (job && !AssignProcessToJobObject(job, pi->hProcess)) log_line("node (pid %lu) runs outside the job (error %lu)", pi->dwProcessId, GetLastError());
  if (job) ResumeThread(pi->hThread);
  return TRUE;
}

static HANDLE kill_on_close_job(void) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  HANDLE job = CreateJobObjectW(NULL, NULL);
  if (job == NULL) return NULL;
  ZeroMemory(&limits, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
    CloseHandle(job);
    return NULL;
  }
  return job;
}

/* Asks node to stop over its stop pipe (it then closes its outbox cleanly), reporting
   STOP_PENDING progress to the SCM meanwhile; after the grace period ends the whole job. */
static void stop_child(PROCESS_INFORMATION *pi, HANDLE job) {
  DWORD grace = shutting_down ? SHUTDOWN_GRACE_MS : STOP_GRACE_MS, waited = 0, written;
  BOOL asked = FALSE;
  if (stop_pipe[0]) {
    HANDLE p = CreateFileW(stop_pipe, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (p != INVALID_HANDLE_VALUE) {
      char line[80];
      int n = snprintf(line, sizeof line, "%s\n", stop_token);
      asked = WriteFile(p, line, n, &written, NULL);
      CloseHandle(p);
    }
  }
  if (!asked) log_line("agent (pid %lu) has no stop pipe open yet (error %lu); ending it", pi->dwProcessId, GetLastError());
  while (asked && waited < grace) {
    report(SERVICE_STOP_PENDING, 1500);
    if (WaitForSingleObject(pi->hProcess, 1000) == WAIT_OBJECT_0) break;
    waited += 1000;
  }
  if (WaitForSingleObject(pi->hProcess, 0) != WAIT_OBJECT_0) {
    if (asked) log_line("agent (pid %lu) did not exit within %lu ms of the stop request; terminating it", pi->dwProcessId, grace);
    if (!job || !TerminateJobObject(job, 1)) TerminateProcess(pi->hProcess, 1);
    WaitForSingleObject(pi->hProcess, 2000);
  } else {
    log_line("agent (pid %lu) exited after the stop request", pi->dwProcessId);
  }
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  wchar_t args[1024];
  DWORD backoff = BACKOFF_MIN_MS;
  (void)argc;
  (void)argv;
  status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control_handler, NULL);
  if (!status_handle) return;
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  report(SERVICE_START_PENDING, 3000);
  secure_dirs(); /* a folder someone else made or swapped for a junction is replaced before use */
  report(SERVICE_RUNNING, 0);
  log_line("service host running (pid %lu)", GetCurrentProcessId());
  helpers_start(stop_event);
  swprintf(args, 1024, L"run --config \"%ls\\agent.json\"", data_dir);

  for (;;) {
    PROCESS_INFORMATION pi;
    HANDLE out, waits[2], job = kill_on_close_job();
    ULONGLONG started;
    DWORD code = 0, r;
    if (job == NULL) log_line("cannot create a job object (error %lu); node will not end with this host", GetLastError());
    rotate_log();
    out = open_log(TRUE);
    started = GetTickCount64();
    new_stop_channel();
    if (!start_node(args, out == INVALID_HANDLE_VALUE ? NULL : out, DETACHED_PROCESS | CREATE_UNICODE_ENVIRONMENT, job, &pi)) {
      log_line("cannot start %lsnode\\node.exe (error %lu); retrying in %lu s", install_dir, GetLastError(), backoff / 1000);
    } else {
      log_line("agent started (pid %lu)", pi.dwProcessId);
      waits[0] = stop_event;
      waits[1] = pi.hProcess;
      r = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
      if (r == WAIT_OBJECT_0) {
        stop_child(&pi, job);
        log_line("agent stopped (service %s)", shutting_down ? "shutdown" : "stop");
      } else {
        GetExitCodeProcess(pi.hProcess, &code);
        if (GetTickCount64() - started > STABLE_RUN_MS) backoff = BACKOFF_MIN_MS;
        log_line("agent exited with code %lu; restarting in %lu s", code, backoff / 1000);
      }
      CloseHandle(pi.hThread);
      CloseHandle(pi.hProcess);
    }
    if (job) CloseHandle(job); /* ends anything node left behind (collector, PowerShell) */
    if (out != INVALID_HANDLE_VALUE) CloseHandle(out);
    if (WaitForSingleObject(stop_event, backoff) == WAIT_OBJECT_0) break;
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
  }
  report(SERVICE_STOP_PENDING, 3000);
  helpers_join(3000);
  report(SERVICE_STOPPED, 0);
}

/* node without a console window; this process waits as its parent. In a kill-on-close job
   (ends with this launcher) unless what node starts must outlive it: the URL handler opens
   the approved app, which the job would kill the moment the handler exits. */
static int run_node_hidden(const wchar_t *args, BOOL in_job) {
  PROCESS_INFORMATION pi;
  DWORD code = 1;
  HANDLE job = in_job ? kill_on_close_job() : NULL;
  if (!start_node(args, NULL, CREATE_NO_WINDOW, job, &pi)) return 1;
  WaitForSingleObject(pi.hProcess, INFINITE);
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  if (job) CloseHandle(job);
  return (int)code;
}

/* consultguard:ACTION?n=ID comes from the shell, so from anything that can open a URL: only
   the one strict shape goes on to node's command line (no quotes, spaces or % to mis-split). */
static int open_url(const wchar_t *url) {
  wchar_t args[256];
  size_t n = wcslen(url);
  if (n < 13 || n > 160 || _wcsnicmp(url, L"consultguard:", 13) != 0) return 2;
  for (size_t i = 13; i < n; i++) {
    wchar_t c = url[i];
    if (!((c >= L'a' && c <= L'z') || (c >= L'A' && c <= L'Z') || (c >= L'0' && c <= L'9') || c == L'?' || c == L'=' || c == L'&' ||
          c == L'-' || c == L'/')) {
      return 2;
    }
  }
  swprintf(args, 256, L"nudge-helper --handle-url %ls", url);
  return run_node_hidden(args, FALSE);
}

typedef LONG(NTAPI *QueryWnf)(const ULONG64 *, const void *, const void *, ULONG *, void *, ULONG *);

/* Whether a toast would be seen now, for the helper (it runs this as the user): the shell's
   notification state and the Focus Assist / Do-not-disturb profile. Windows has no documented
   call for the latter; WNF_SHEL_QUIETHOURS_ACTIVE_PROFILE_CHANGED is what tools read. */
static int notify_state(void) {
  static const char *quns[] = {"unknown", "not-present", "busy", "d3d-fullscreen", "presentation", "accepts", "quiet-time", "app"};
  static const ULONG64 quiet_hours = 0x0D83063EA3BF1C75ULL;
  QUERY_USER_NOTIFICATION_STATE q = 0;
  QueryWnf query = (QueryWnf)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryWnfStateData");
  ULONG stamp = 0, value = 0, size = sizeof value;
  const char *focus = "unknown";
  char line[96];
  DWORD written;
  int n;
  if (SHQueryUserNotificationState(&q) != S_OK || q < 0 || q > 7) q = 0;
  if (query && query(&quiet_hours, NULL, NULL, &stamp, &value, &size) >= 0) focus = value == 0 ? "off" : value == 1 ? "priority-only" : value == 2 ? "alarms-only" : "on";
  n = snprintf(line, sizeof line, "quns=%s focus=%s\n", quns[q], focus);
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), line, n, &written, NULL);
  return 0;
}

/* The Start-menu entry (it exists so toasts carry ConsultGuard's AppUserModelID): says plainly
   what this software is, for the clinician who finds it. */
static int about(void) {
  MessageBoxW(NULL,
              L"The ConsultGuard agent was installed on this PC by your clinic's IT team.\n\n"
              L"During consult hours it notices consumer video apps (Zoom, WhatsApp, FaceTime...) and reminds you "
              L"to use the clinic's approved telehealth app instead; your clinic's security lead sees which apps were used.\n\n"
              L"Questions: ask your clinic's IT team.",
              L"ConsultGuard", MB_OK | MB_ICONINFORMATION);
  return 0;
}

int WINAPI wWinMain(HINSTANCE instance, HINSTANCE prev, LPWSTR cmdline, int show) {
  int argc = 0, rc = 0;
  wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  const wchar_t *cmd = argc >= 2 ? argv[1] : L"";
  (void)instance;
  (void)prev;
  (void)cmdline;
  (void)show;
  init_paths();
  if (wcscmp(cmd, L"write-config") == 0) rc = write_config(argc, argv);
  else if (wcscmp(cmd, L"nudge-helper") == 0) rc = run_node_hidden(L"nudge-helper", TRUE);
  else if (wcscmp(cmd, L"open-url") == 0) rc = argc >= 3 ? open_url(argv[2]) : 2;
  else if (wcscmp(cmd, L"notify-state") == 0) rc = notify_state();
  else if (wcscmp(cmd, L"about") == 0) rc = about();
  else if (wcscmp(cmd, L"stop-helpers") == 0) rc = stop_helpers();
  else if (wcscmp(cmd, L"secure-dirs") == 0) rc = secure_dirs();
  else if (wcscmp(cmd, L"user-dir") == 0) rc = argc >= 4 ? user_dir(argv[2], argv[3]) : 2;
  else if (wcscmp(cmd, L"configure-service") == 0) rc = configure_service(SERVICE_NAME);
  else if (wcscmp(cmd, L"purge") == 0) rc = purge();
  else {
    SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherW(table)) {
      log_line("not started by the service manager (error %lu); run it as the ConsultGuardAgent service", GetLastError());
      rc = 1;
    }
  }
  LocalFree(argv);
  return rc;
}
