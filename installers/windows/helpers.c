/*
 * The nudge helper in every interactive session, supervised by the service.
 *
 * The helper must run as the logged-on user, in that user's session (it shows toasts on
 * that desktop), so the service starts it itself: WTSQueryUserToken gives the session's
 * user token, CreateProcessAsUserW starts node.exe with it on winsta0\default. Helpers are
 * started for every session at service start (install, upgrade, boot: WTSEnumerateSessionsW
 * plus the console session), at each logon, unlock or (re)connect (SERVICE_CONTROL_SESSIONCHANGE,
 * forwarded by service-host.c), and again after a back-off whenever one exits while its
 * session still has a user. Each helper sits in a job object of its own that kills it when
 * the job handle closes: if the service host dies, its helpers die too, and the restarted
 * host starts exactly one fresh helper per session (no duplicates competing for the pipe).
 * A job per helper because a job's processes must all be in one session.
 *
 * Wine (CI) implements WTSQueryUserToken, CreateProcessAsUserW and jobs, but enumerates no
 * sessions and sends no session-change events: there the console session
 * (WTSGetActiveConsoleSessionId, 1) is the one helper started and restarted.
 */
#include "service-host.h"
#include "node-flags.h"
#include <userenv.h>
#include <wtsapi32.h>
#include <stdio.h>
#include <wchar.h>

#define MAX_SESSIONS 64
#define HELPER_BACKOFF_MIN_MS 2000
#define HELPER_BACKOFF_MAX_MS 300000
#define HELPER_STABLE_MS 60000

typedef struct {
  DWORD session;
  HANDLE process; /* NULL: not running */
  HANDLE job;
  DWORD pid;
  DWORD backoff;
  ULONGLONG started;
  ULONGLONG restart_at; /* 0: nothing scheduled */
  BOOL used;
} Helper;

static Helper helpers[MAX_SESSIONS];
static CRITICAL_SECTION lock;
static DWORD pending[MAX_SESSIONS]; /* sessions named by SESSIONCHANGE, not yet handled */
static int pending_count;
static HANDLE wake_event;
static HANDLE thread;
static HANDLE stop;

static Helper *slot_for(DWORD session, BOOL create) {
  Helper *free_slot = NULL;
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (helpers[i].used && helpers[i].session == session) return &helpers[i];
    if (!helpers[i].used && free_slot == NULL) free_slot = &helpers[i];
  }
  if (!create || free_slot == NULL) return NULL;
  ZeroMemory(free_slot, sizeof *free_slot);
  free_slot->used = TRUE;
  free_slot->session = session;
  free_slot->backoff = HELPER_BACKOFF_MIN_MS;
  return free_slot;
}

/* Whether a double-NUL-terminated environment block has `name=` (case-insensitive). */
static BOOL env_has(const wchar_t *block, const wchar_t *name) {
  size_t n = wcslen(name);
  for (const wchar_t *p = block; p && *p; p += wcslen(p) + 1) {
    if (_wcsnicmp(p, name, n) == 0) return TRUE;
  }
  return FALSE;
}

/* This process's environment without the agent's stop channel (CONSULTGUARD_STOP_*), for when
   the user's own block is unusable (wine returns one without the profile folders). */
static wchar_t *own_env_copy(void) {
  wchar_t *src = GetEnvironmentStringsW(), *out, *o;
  size_t total = 0;
  if (src == NULL) return NULL;
  for (const wchar_t *p = src; *p; p += wcslen(p) + 1) total += wcslen(p) + 1;
  out = o = (wchar_t *)HeapAlloc(GetProcessHeap(), 0, (total + 1) * sizeof(wchar_t));
  if (out) {
    for (const wchar_t *p = src; *p; p += wcslen(p) + 1) {
      if (_wcsnicmp(p, L"CONSULTGUARD_STOP_", 18) == 0) continue;
      wcscpy(o, p);
      o += wcslen(p) + 1;
    }
    *o = 0;
  }
  FreeEnvironmentStringsW(src);
  return out;
}

/* Starts node.exe ... nudge-helper as the session's user; FALSE when the session has no user. */
static BOOL start_helper(Helper *h) {
  wchar_t cmd[2048];
  wchar_t nudge_dir[MAX_PATH];
  DWORD n;
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  HANDLE token = NULL;
  void *env = NULL;
  wchar_t *fallback = NULL;
  BOOL ok;
  if (!WTSQueryUserToken(h->session, &token)) {
    log_line("session %lu: no user logged on (error %lu); no nudge helper there", h->session, GetLastError());
    return FALSE;
  }
  if (!CreateEnvironmentBlock(&env, token, FALSE)) env = NULL;
  if (env == NULL || !env_has(env, L"LOCALAPPDATA=") || !env_has(env, L"SystemRoot=")) {
    if (env) DestroyEnvironmentBlock(env);
    env = NULL;
    fallback = own_env_copy();
  }
  ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  si.lpDesktop = (LPWSTR)L"winsta0\\default";
  /* The rendezvous the agent uses, named explicitly (--dir): the agent's default root is
     %ProgramData% as this host set it (init_paths), while the user's environment block may
     say otherwise (wine's gives C:\users\Public), and then the two never meet. A machine-wide
     CONSULTGUARD_NUDGE_DIR, which the agent also reads, wins as it does for the agent. */
  n = GetEnvironmentVariableW(L"CONSULTGUARD_NUDGE_DIR", nudge_dir, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) {
    swprintf(nudge_dir, MAX_PATH, L"%ls\\nudge", data_dir);
  }
  swprintf(cmd, 2048, L"\"%lsnode\\node.exe\" " CG_NODE_FLAGS L" \"%lsapp\\agent.mjs\" nudge-helper --dir \"%ls\"", install_dir, install_dir, nudge_dir);
  /* Suspended until it is in its job, so not even a child of it can escape the job. */
  ok = CreateProcessAsUserW(token, NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED,
                            env ? env : fallback, install_dir, &si, &pi);
  if (env) DestroyEnvironmentBlock(env);
  if (fallback) HeapFree(GetProcessHeap(), 0, fallback);
  CloseHandle(token);
  if (!ok) {
    log_line("session %lu: cannot start the nudge helper (error %lu)", h->session, GetLastError());
    return TRUE; /* the user is there: retry after the back-off */
  }
  h->job = CreateJobObjectW(NULL, NULL);
  ZeroMemory(&limits, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (h->job == NULL || !SetInformationJobObject(h->job, JobObjectExtendedLimitInformation, &limits, sizeof limits) ||
      !AssignProcessToJobObject(h->job, pi.hProcess)) {
    log_line("session %lu: nudge helper runs outside a job (error %lu)", h->session, GetLastError());
  }
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  h->process = pi.hProcess;
  h->pid = pi.dwProcessId;
  h->started = GetTickCount64();
  h->restart_at = 0;
  log_line("nudge helper started in session %lu (pid %lu)", h->session, h->pid);
  return TRUE;
}

static void close_helper(Helper *h) {
  if (h->job) {
    TerminateJobObject(h->job, 0);
    CloseHandle(h->job);
  }
  if (h->process) CloseHandle(h->process);
  h->job = h->process = NULL;
}

/* A helper for `session` unless one runs or is already scheduled. */
static void ensure(DWORD session) {
  Helper *h = slot_for(session, TRUE);
  if (h == NULL) {
    log_line("session %lu: more than %d sessions; no nudge helper there", session, MAX_SESSIONS);
    return;
  }
  if (h->process != NULL) return;
  if (!start_helper(h)) {
    h->used = FALSE; /* no user: a later logon names the session again */
    return;
  }
  if (h->process == NULL) h->restart_at = GetTickCount64() + h->backoff;
}

static void on_exit(Helper *h) {
  DWORD code = 0;
  GetExitCodeProcess(h->process, &code);
  close_helper(h);
  if (GetTickCount64() - h->started > HELPER_STABLE_MS) h->backoff = HELPER_BACKOFF_MIN_MS;
  log_line("nudge helper in session %lu (pid %lu) exited with code %lu; restarting in %lu s", h->session, h->pid, code, h->backoff / 1000);
  h->restart_at = GetTickCount64() + h->backoff;
  h->backoff = h->backoff * 2 > HELPER_BACKOFF_MAX_MS ? HELPER_BACKOFF_MAX_MS : h->backoff * 2;
}

static void start_all_sessions(void) {
  WTS_SESSION_INFOW *list = NULL;
  DWORD count = 0, console = WTSGetActiveConsoleSessionId();
  BOOL console_listed = FALSE;
  if (WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &list, &count)) {
    for (DWORD i = 0; i < count; i++) {
      /* Session 0 is the services' session: nobody sees a desktop there. */
      if (list[i].SessionId == 0) continue;
      if (list[i].State != WTSActive && list[i].State != WTSDisconnected && list[i].State != WTSConnected) continue;
      if (list[i].SessionId == console) console_listed = TRUE;
      ensure(list[i].SessionId);
    }
    WTSFreeMemory(list);
  }
  if (!console_listed && console != 0xFFFFFFFF && console != 0) ensure(console);
}

static DWORD WINAPI supervise(LPVOID unused) {
  (void)unused;
  start_all_sessions();
  for (;;) {
    HANDLE waits[2 + MAX_SESSIONS];
    Helper *owners[2 + MAX_SESSIONS];
    DWORD n = 2, timeout = INFINITE, r;
    ULONGLONG now = GetTickCount64();
    waits[0] = stop;
    waits[1] = wake_event;
    for (int i = 0; i < MAX_SESSIONS; i++) {
      Helper *h = &helpers[i];
      if (!h->used) continue;
      if (h->process) {
        owners[n] = h;
        waits[n++] = h->process;
      } else if (h->restart_at) {
        DWORD due = h->restart_at > now ? (DWORD)(h->restart_at - now) : 0;
        if (due < timeout) timeout = due;
      }
    }
    r = WaitForMultipleObjects(n, waits, FALSE, timeout);
    if (r == WAIT_OBJECT_0) break;
    if (r == WAIT_OBJECT_0 + 1) {
      DWORD todo[MAX_SESSIONS];
      int k;
      EnterCriticalSection(&lock);
      k = pending_count;
      memcpy(todo, pending, sizeof(DWORD) * k);
      pending_count = 0;
      LeaveCriticalSection(&lock);
      for (int i = 0; i < k; i++) ensure(todo[i]);
    } else if (r >= WAIT_OBJECT_0 + 2 && r < WAIT_OBJECT_0 + n) {
      on_exit(owners[r - WAIT_OBJECT_0]);
    }
    now = GetTickCount64();
    for (int i = 0; i < MAX_SESSIONS; i++) {
      Helper *h = &helpers[i];
      if (!h->used || h->process || !h->restart_at || h->restart_at > now) continue;
      h->restart_at = 0;
      if (!start_helper(h)) h->used = FALSE;
      else if (!h->process) h->restart_at = now + h->backoff;
    }
  }
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (helpers[i].used) close_helper(&helpers[i]);
  }
  return 0;
}

void helpers_start(HANDLE stop_event) {
  InitializeCriticalSection(&lock);
  stop = stop_event;
  wake_event = CreateEventW(NULL, FALSE, FALSE, NULL);
  thread = CreateThread(NULL, 0, supervise, NULL, 0, NULL);
}

/* Called on the service's control thread: only queues the session for the supervisor. */
void helpers_session_change(DWORD event, DWORD session) {
  if (event != WTS_SESSION_LOGON && event != WTS_SESSION_UNLOCK && event != WTS_CONSOLE_CONNECT && event != WTS_REMOTE_CONNECT) return;
  if (session == 0 || thread == NULL) return;
  EnterCriticalSection(&lock);
  if (pending_count < MAX_SESSIONS) pending[pending_count++] = session;
  LeaveCriticalSection(&lock);
  SetEvent(wake_event);
}

/* After stop_event was set: the supervisor ends every helper (their jobs) and returns. */
void helpers_join(DWORD timeout_ms) {
  if (thread == NULL) return;
  WaitForSingleObject(thread, timeout_ms);
  CloseHandle(thread);
  thread = NULL;
}
