/*
 * consultguard-service.exe: the Windows side of the agent that node.exe cannot do itself.
 *
 *   consultguard-service.exe              run as the service "ConsultGuardAgent" (SCM starts it)
 *   consultguard-service.exe write-config --server-url U --enroll-secret S --site N
 *                                         write %ProgramData%\ConsultGuard\agent.json (MSI custom action)
 *   consultguard-service.exe nudge-helper start the per-user nudge helper without a console window
 *   consultguard-service.exe stop-helpers end every other process started from the install folder
 *                                         (nudge helpers in user sessions hold node.exe open)
 *   consultguard-service.exe purge        delete the agent's state and logs (real uninstall only)
 *
 * As a service it starts `node.exe app\agent.mjs run --config ...\agent.json`, sends its
 * output to logs\service.log (node dies with EBADF on some pipes, and a file survives the
 * process), restarts it after a doubling back-off when it exits, and on stop sends it
 * Ctrl+C (the agent flushes its outbox on SIGINT) before killing it after a grace period.
 *
 * Built GUI-subsystem (-mwindows) so the Run-key launch of the nudge helper never flashes a
 * console in the user's session. Build (msi.ts):
 *   x86_64-w64-mingw32-gcc -municode -mwindows -O2 -s service-host.c install-actions.c -lshell32 -ladvapi32
 */
#include "service-host.h"
#include <shellapi.h>
#include <shlobj.h>
#include <stdio.h>
#include <wchar.h>

#define SERVICE_NAME L"ConsultGuardAgent"
#define STOP_GRACE_MS 8000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STABLE_RUN_MS 60000
#define LOG_ROTATE_BYTES (10 * 1024 * 1024)

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;
wchar_t install_dir[MAX_PATH];
wchar_t data_dir[MAX_PATH];
static wchar_t log_path[MAX_PATH];

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

void ensure_dirs(void) {
  wchar_t logs[MAX_PATH];
  CreateDirectoryW(data_dir, NULL);
  swprintf(logs, MAX_PATH, L"%ls\\logs", data_dir);
  CreateDirectoryW(logs, NULL);
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
  status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  status.dwWin32ExitCode = NO_ERROR;
  status.dwWaitHint = wait_hint;
  status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : status.dwCheckPoint + 1;
  SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID context) {
  (void)type;
  (void)data;
  (void)context;
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      report(SERVICE_STOP_PENDING, STOP_GRACE_MS + 2000);
      SetEvent(stop_event);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

/* Starts node with `args` (after the script path); output to `out` when given. */
static BOOL start_node(const wchar_t *args, HANDLE out, DWORD flags, PROCESS_INFORMATION *pi) {
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
  swprintf(cmd, 2048, L"\"%lsnode\\node.exe\" \"%lsapp\\agent.mjs\" %ls", install_dir, install_dir, args);
  return CreateProcessW(NULL, cmd, NULL, NULL, out != NULL, flags, NULL, install_dir, &si, pi);
}

/* Asks node to exit like Ctrl+C would (it then closes its outbox cleanly), else kills it. */
static void stop_child(PROCESS_INFORMATION *pi) {
  if (AttachConsole(pi->dwProcessId)) {
    SetConsoleCtrlHandler(NULL, TRUE); /* the event reaches every process on the console, us included */
    GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
    FreeConsole();
  }
  if (WaitForSingleObject(pi->hProcess, STOP_GRACE_MS) != WAIT_OBJECT_0) {
    log_line("agent (pid %lu) did not exit within %d ms of Ctrl+C; terminating it", pi->dwProcessId, STOP_GRACE_MS);
    TerminateProcess(pi->hProcess, 1);
    WaitForSingleObject(pi->hProcess, 5000);
  }
  SetConsoleCtrlHandler(NULL, FALSE);
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
  ensure_dirs();
  report(SERVICE_RUNNING, 0);
  swprintf(args, 1024, L"run --config \"%ls\\agent.json\"", data_dir);

  for (;;) {
    PROCESS_INFORMATION pi;
    HANDLE out, waits[2];
    ULONGLONG started;
    DWORD code = 0, r;
    rotate_log();
    out = open_log(TRUE);
    started = GetTickCount64();
    /* CREATE_NO_WINDOW: node gets a console (needed for Ctrl+C) that nobody sees. */
    if (!start_node(args, out == INVALID_HANDLE_VALUE ? NULL : out, CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT, &pi)) {
      log_line("cannot start %lsnode\\node.exe (error %lu); retrying in %lu s", install_dir, GetLastError(), backoff / 1000);
    } else {
      log_line("agent started (pid %lu)", pi.dwProcessId);
      waits[0] = stop_event;
      waits[1] = pi.hProcess;
      r = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
      if (r == WAIT_OBJECT_0) {
        stop_child(&pi);
        log_line("agent stopped (service stop)");
      } else {
        GetExitCodeProcess(pi.hProcess, &code);
        if (GetTickCount64() - started > STABLE_RUN_MS) backoff = BACKOFF_MIN_MS;
        log_line("agent exited with code %lu; restarting in %lu s", code, backoff / 1000);
      }
      CloseHandle(pi.hThread);
      CloseHandle(pi.hProcess);
    }
    if (out != INVALID_HANDLE_VALUE) CloseHandle(out);
    if (WaitForSingleObject(stop_event, backoff) == WAIT_OBJECT_0) break;
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
  }
  report(SERVICE_STOPPED, 0);
}

/* Per-user helper: node without a console window; this process waits so it shows as the parent. */
static int nudge_helper(void) {
  PROCESS_INFORMATION pi;
  DWORD code = 1;
  if (!start_node(L"nudge-helper", NULL, CREATE_NO_WINDOW, &pi)) return 1;
  WaitForSingleObject(pi.hProcess, INFINITE);
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return (int)code;
}

int WINAPI wWinMain(HINSTANCE instance, HINSTANCE prev, LPWSTR cmdline, int show) {
  int argc = 0, rc = 0;
  wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  (void)instance;
  (void)prev;
  (void)cmdline;
  (void)show;
  init_paths();
  if (argc >= 2 && wcscmp(argv[1], L"write-config") == 0) {
    rc = write_config(argc, argv);
  } else if (argc >= 2 && wcscmp(argv[1], L"nudge-helper") == 0) {
    rc = nudge_helper();
  } else if (argc >= 2 && wcscmp(argv[1], L"stop-helpers") == 0) {
    rc = stop_helpers();
  } else if (argc >= 2 && wcscmp(argv[1], L"purge") == 0) {
    rc = purge();
  } else {
    SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherW(table)) {
      log_line("not started by the service manager (error %lu); run it as the ConsultGuardAgent service", GetLastError());
      rc = 1;
    }
  }
  LocalFree(argv);
  return rc;
}
