/*
 * consultguard-collector.exe: what the Windows agent sees of this machine, without
 * PowerShell, WMI or a console window. The agent starts it once and keeps it running; each
 * request is one line on stdin and each answer one line of JSON (UTF-8) on stdout.
 *
 *   poll                    every process and the TCP/UDP tables (IPv4 and IPv6) with owning pids:
 *     {"ok":1,"now":MS,"p":[[pid,ppid,session,startMs,"name","path","user"],...],
 *      "tcp":[[pid,"laddr",lport,"raddr",rport,"STATE"],...],"udp":[[pid,"laddr",lport],...]}
 *   poll basic              the same, but TCP rows without owners (pid 0): cheaper where the
 *                           owner lookup is not free (wine); the agent then asks `tcp` only
 *                           when some flow goes to an address it cares about. The rows are
 *                           the last read's while the TCP counters say nothing changed
 *                           (list_tcp_basic); `poll basic reread` always reads the tables
 *   tcp                     {"ok":1,"tcp":[...]}: the TCP tables with owning pids
 *   cmd PID:START ...       command lines of those processes (only the ones the catalog cares
 *                           about: the agent asks), each checked against its start time so a
 *                           recycled pid never lends its command line:
 *     {"ok":1,"cmd":[[pid,"command line"],...]}
 *   anything else           {"ok":0,"error":"..."}; end of stdin ends the collector.
 *
 * Where each field comes from:
 * - pid, parent, name, session id and creation time: one NtQuerySystemInformation
 *   (SystemProcessInformation) call for the whole list (what Toolhelp itself is built on);
 * - full image path: QueryFullProcessImageNameW (PROCESS_QUERY_LIMITED_INFORMATION, which
 *   SYSTEM gets for every process except protected ones);
 * - owner: the process token's TokenUser SID, named DOMAIN\user by LookupAccountSidW
 *   (a cache of SID -> name, as lookups can go to a domain controller);
 * - command line: NtQueryInformationProcess(ProcessCommandLineInformation, Windows 8.1+),
 *   falling back to the PEB (RTL_USER_PROCESS_PARAMETERS.CommandLine) via ReadProcessMemory.
 *   Under wine 8 the first gives nothing for another process and the PEB read is what
 *   works (checked here); on Windows the first works for every process SYSTEM can open;
 * - sockets: GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL), GetExtendedUdpTable(UDP_TABLE_OWNER_PID).
 *   The UDP table has no remote end on Windows (netstat shows *:*): rows are local only.
 *
 * Path, owner and session cost system calls per process, so they are cached per (pid,
 * creation time) and looked up only for processes new since the last poll; an unchanged
 * machine costs one process-list call and the socket tables.
 *
 * Build (installers/windows/msi.ts), GUI subsystem so no console ever opens:
 *   x86_64-w64-mingw32-gcc -municode -mwindows -O2 -s collector.c -liphlpapi -lws2_32 -lntdll -ladvapi32
 */
#define WIN32_LEAN_AND_MEAN
#define _WIN32_WINNT 0x0601
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
#include <winternl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---------- output buffer and JSON ---------- */

typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

static buf_t out;

static void need(buf_t *b, size_t n) {
  if (b->len + n <= b->cap) return;
  size_t cap = b->cap ? b->cap : 65536;
  while (cap < b->len + n) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) ExitProcess(3); /* out of memory: the agent restarts us */
  b->p = p;
  b->cap = cap;
}

static void put(buf_t *b, const char *s, size_t n) {
  need(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

static void putf(buf_t *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string from UTF-8 bytes: quotes, backslashes and control characters escaped. */
static void put_json_utf8(buf_t *b, const char *s) {
  put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char e[2] = {'\\', (char)*c};
      put(b, e, 2);
    } else if (*c < 0x20) {
      putf(b, "\\u%04x", *c);
    } else {
      put(b, (const char *)c, 1);
    }
  }
  put(b, "\"", 1);
}

/* UTF-16 -> UTF-8 (never the OEM or ANSI code page: "Zoë" stays "Zoë"). Caller frees. */
static char *utf8(const wchar_t *w, int wlen) {
  if (!w) return NULL;
  int n = WideCharToMultiByte(CP_UTF8, 0, w, wlen, NULL, 0, NULL, NULL);
  if (n <= 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  WideCharToMultiByte(CP_UTF8, 0, w, wlen, s, n, NULL, NULL);
  s[n] = 0;
  return s;
}

static void put_json_wide(buf_t *b, const wchar_t *w, int wlen) {
  char *s = utf8(w, wlen);
  if (s) {
    put_json_utf8(b, s);
    free(s);
  } else {
    puts_(b, "null");
  }
}

static void put_json_opt(buf_t *b, const char *s) {
  if (s) put_json_utf8(b, s);
  else puts_(b, "null");
}

/* ---------- owner names, cached per SID ---------- */

typedef struct sid_entry {
  struct sid_entry *next;
  PSID sid;
  char *name; /* UTF-8 DOMAIN\user, or NULL when the SID has no name */
} sid_entry;

static sid_entry *sids;

static const char *account_name(PSID sid) {
  for (sid_entry *e = sids; e; e = e->next)
    if (EqualSid(e->sid, sid)) return e->name;
  wchar_t name[256], domain[256], full[520];
  DWORD nn = 256, dn = 256;
  SID_NAME_USE use;
  char *result = NULL;
  if (LookupAccountSidW(NULL, sid, name, &nn, domain, &dn, &use)) {
    if (dn > 0) _snwprintf(full, 520, L"%ls\\%ls", domain, name);
    else _snwprintf(full, 520, L"%ls", name);
    full[519] = 0;
    result = utf8(full, -1);
  }
  sid_entry *e = calloc(1, sizeof *e);
  DWORD len = GetLengthSid(sid);
  if (!e || !(e->sid = malloc(len))) return result; /* uncached, still answered */
  CopySid(len, e->sid, sid);
  e->name = result;
  e->next = sids;
  sids = e;
  return result;
}

static const char *process_owner(HANDLE proc) {
  HANDLE token;
  const char *name = NULL;
  if (!OpenProcessToken(proc, TOKEN_QUERY, &token)) return NULL;
  union {
    TOKEN_USER user;
    BYTE bytes[256];
  } info;
  DWORD got = 0;
  if (GetTokenInformation(token, TokenUser, &info, sizeof info, &got)) name = account_name(info.user.User.Sid);
  CloseHandle(token);
  return name;
}

/* ---------- per-process details, cached per (pid, creation time) ---------- */

typedef struct {
  DWORD pid;
  ULONGLONG start; /* FILETIME ticks */
  char *path;
  const char *user; /* owned by the SID cache */
  int seen;         /* poll generation that last saw it */
} detail_t;

static detail_t *details;
static size_t n_details, cap_details;
static int generation;

static detail_t *detail_for(DWORD pid, ULONGLONG start) {
  for (size_t i = 0; i < n_details; i++)
    if (details[i].pid == pid && details[i].start == start) return &details[i];
  if (n_details == cap_details) {
    size_t cap = cap_details ? cap_details * 2 : 512;
    detail_t *d = realloc(details, cap * sizeof *d);
    if (!d) ExitProcess(3);
    details = d;
    cap_details = cap;
  }
  detail_t *d = &details[n_details++];
  memset(d, 0, sizeof *d);
  d->pid = pid;
  d->start = start;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h) {
    wchar_t path[32768];
    DWORD len = 32768;
    if (QueryFullProcessImageNameW(h, 0, path, &len)) d->path = utf8(path, (int)len);
    d->user = process_owner(h);
    CloseHandle(h);
  }
  return d;
}

/* Drops the processes the last poll did not see (exited). */
static void sweep(void) {
  size_t j = 0;
  for (size_t i = 0; i < n_details; i++) {
    if (details[i].seen == generation) details[j++] = details[i];
    else free(details[i].path);
  }
  n_details = j;
}

/* ---------- the process list ---------- */

/* SystemProcessInformation's documented layout (winternl.h hides these fields as Reserved). */
typedef struct {
  ULONG NextEntryOffset;
  ULONG NumberOfThreads;
  LARGE_INTEGER WorkingSetPrivateSize;
  ULONG HardFaultCount;
  ULONG NumberOfThreadsHighWatermark;
  ULONGLONG CycleTime;
  LARGE_INTEGER CreateTime;
  LARGE_INTEGER UserTime;
  LARGE_INTEGER KernelTime;
  UNICODE_STRING ImageName;
  LONG BasePriority;
  HANDLE UniqueProcessId;
  HANDLE InheritedFromUniqueProcessId;
  ULONG HandleCount;
  ULONG SessionId;
} proc_info_t;

static BYTE *plist;
static ULONG plist_cap;

/* FILETIME ticks (100 ns since 1601) -> ms since 1970. */
static long long unix_ms(ULONGLONG ticks) { return ticks ? (long long)(ticks / 10000ULL) - 11644473600000LL : 0; }

static int list_processes(buf_t *b) {
  NTSTATUS st;
  ULONG need_len = 0;
  if (!plist_cap) {
    plist_cap = 1 << 20;
    plist = malloc(plist_cap);
  }
  for (int tries = 0; tries < 8; tries++) {
    st = NtQuerySystemInformation(SystemProcessInformation, plist, plist_cap, &need_len);
    if (st != (NTSTATUS)0xC0000004L /* STATUS_INFO_LENGTH_MISMATCH */) break;
    plist_cap = (need_len > plist_cap ? need_len : plist_cap) * 2;
    free(plist);
    plist = malloc(plist_cap);
    if (!plist) ExitProcess(3);
  }
  if (st < 0) return 0;
  generation++;
  puts_(b, "\"p\":[");
  int first = 1;
  for (BYTE *at = plist;;) {
    proc_info_t *pi = (proc_info_t *)at;
    DWORD pid = (DWORD)(ULONG_PTR)pi->UniqueProcessId;
    DWORD ppid = (DWORD)(ULONG_PTR)pi->InheritedFromUniqueProcessId;
    if (pid != 0) { /* 0 is the idle process: no image, no owner */
      ULONGLONG start = (ULONGLONG)pi->CreateTime.QuadPart;
      detail_t *d = detail_for(pid, start);
      d->seen = generation;
      if (!first) put(b, ",", 1);
      first = 0;
      putf(b, "[%lu,%lu,%lu,%lld,", (unsigned long)pid, (unsigned long)ppid, (unsigned long)pi->SessionId, unix_ms(start));
      if (pi->ImageName.Buffer) put_json_wide(b, pi->ImageName.Buffer, pi->ImageName.Length / 2);
      else puts_(b, "\"System\"");
      put(b, ",", 1);
      put_json_opt(b, d->path);
      put(b, ",", 1);
      put_json_opt(b, d->user);
      put(b, "]", 1);
    }
    if (!pi->NextEntryOffset) break;
    at += pi->NextEntryOffset;
  }
  put(b, "]", 1);
  sweep();
  return 1;
}

/* ---------- sockets ---------- */

static const char *tcp_state(DWORD s) {
  static const char *names[] = {"UNKNOWN", "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT1",
                                "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "DELETE_TCB"};
  return s < sizeof names / sizeof names[0] ? names[s] : "UNKNOWN";
}

/*
 * A socket table: TCP (owner pids or, with `owners` 0, without), or UDP (always with owners).
 * The buffer is kept between polls, so one call usually suffices instead of the usual
 * size-probe-then-fetch pair: each call enumerates every socket (under wine, both address
 * families and every owner, each time). The returned table belongs to the cache.
 */
typedef struct {
  void *p;
  DWORD cap;
} table_buf;

static table_buf table_bufs[2][2][2]; /* [tcp][owners][ipv6] */

static void *table(int tcp, int owners, ULONG family) {
  table_buf *b = &table_bufs[tcp][owners][family == AF_INET6];
  int cls = owners ? TCP_TABLE_OWNER_PID_ALL : TCP_TABLE_BASIC_ALL;
  for (int tries = 0; tries < 5; tries++) {
    DWORD size = b->cap;
    DWORD r = tcp ? GetExtendedTcpTable(b->p, &size, FALSE, family, cls, 0)
                  : GetExtendedUdpTable(b->p, &size, FALSE, family, UDP_TABLE_OWNER_PID, 0);
    if (r == NO_ERROR && b->p) return b->p;
    if (r != ERROR_INSUFFICIENT_BUFFER) return NULL;
    DWORD cap = size + size / 4 + 4096; /* room for the table to grow before the next poll */
    void *p = realloc(b->p, cap);
    if (!p) return NULL;
    b->p = p;
    b->cap = cap;
  }
  return NULL;
}

static void addr(buf_t *b, int family, const void *a) {
  char s[64];
  if (!inet_ntop(family, (void *)a, s, sizeof s)) s[0] = 0;
  put_json_utf8(b, s);
}

static int first_row;

static void row_sep(buf_t *b) {
  if (!first_row) put(b, ",", 1);
  first_row = 0;
}

static void tcp_row(buf_t *b, DWORD pid, int family, const void *la, DWORD lp, const void *ra, DWORD rp, DWORD state) {
  row_sep(b);
  putf(b, "[%lu,", (unsigned long)pid);
  addr(b, family, la);
  putf(b, ",%u,", ntohs((u_short)lp));
  addr(b, family, ra);
  putf(b, ",%u,\"%s\"]", ntohs((u_short)rp), tcp_state(state));
}

/*
 * Reuse of the basic TCP rows. Under wine each TCP-table call enumerates every socket of
 * both families and looks up every owner (walking each wine process's fds), ~45 ms for
 * ~420 sockets even for an empty IPv6 table: most of a steady poll. The TCP counters
 * (GetTcpStatisticsEx: a cheap kernel call on Windows, /proc/net/snmp under wine) say when
 * the table can have changed: a new connection raises ActiveOpens or PassiveOpens, one
 * leaving ESTABLISHED/CLOSE_WAIT lowers CurrEstab, a failed or reset one raises AttemptFails
 * or EstabResets. What moves without a counter is a row in a passing state (SYN_SENT,
 * SYN_RECEIVED, FIN_WAIT1/2, CLOSING, LAST_ACK), so a table holding one is never reused, and
 * the ESTABLISHED -> CLOSE_WAIT label, and TIME_WAIT rows expiring (neither changes which
 * flows the agent sees: it never counts TIME_WAIT as a flow). So while no counter of either
 * family moved and the last table had no row in a passing state, its rows are the flows of
 * now; they are read again anyway once REUSE_MAX_MS old. `poll basic reread` never reuses.
 */
#define REUSE_MAX_MS 30000

typedef struct {
  DWORD v[2][5];
} tcp_counters;

static struct {
  buf_t rows;   /* the rendered rows of the last basic read, without the brackets */
  tcp_counters at;
  ULONGLONG read_ms;
  int valid;    /* the last read had no row in a passing state */
} reuse;

static int read_counters(tcp_counters *c) {
  static const ULONG families[2] = {AF_INET, AF_INET6};
  for (int i = 0; i < 2; i++) {
    MIB_TCPSTATS s;
    if (GetTcpStatisticsEx(&s, families[i]) != NO_ERROR) return 0;
    DWORD v[5] = {s.dwActiveOpens, s.dwPassiveOpens, s.dwAttemptFails, s.dwEstabResets, s.dwCurrEstab};
    memcpy(c->v[i], v, sizeof v);
  }
  return 1;
}

static int passing_state(DWORD s) {
  return s == MIB_TCP_STATE_SYN_SENT || s == MIB_TCP_STATE_SYN_RCVD || s == MIB_TCP_STATE_FIN_WAIT1 ||
         s == MIB_TCP_STATE_FIN_WAIT2 || s == MIB_TCP_STATE_CLOSING || s == MIB_TCP_STATE_LAST_ACK;
}

/* Basic rows (pid 0), from the last read when nothing can have changed (see above). */
static void list_tcp_basic(buf_t *b, int reread) {
  tcp_counters now;
  int counted = read_counters(&now);
  ULONGLONG ms = GetTickCount64();
  if (!reread && counted && reuse.valid && ms - reuse.read_ms < REUSE_MAX_MS && memcmp(&now, &reuse.at, sizeof now) == 0) {
    put(b, reuse.rows.p, reuse.rows.len);
    return;
  }
  size_t from = b->len;
  int settled = 1;
  MIB_TCPTABLE *t4 = table(1, 0, AF_INET);
  for (DWORD i = 0; t4 && i < t4->dwNumEntries; i++) {
    MIB_TCPROW *r = &t4->table[i];
    settled &= !passing_state(r->dwState);
    tcp_row(b, 0, AF_INET, &r->dwLocalAddr, r->dwLocalPort, &r->dwRemoteAddr, r->dwRemotePort, r->dwState);
  }
  MIB_TCP6TABLE *t6 = table(1, 0, AF_INET6);
  for (DWORD i = 0; t6 && i < t6->dwNumEntries; i++) {
    MIB_TCP6ROW *r = &t6->table[i];
    settled &= !passing_state(r->State);
    tcp_row(b, 0, AF_INET6, &r->LocalAddr, r->dwLocalPort, &r->RemoteAddr, r->dwRemotePort, r->State);
  }
  /* A failed table read, or counters that cannot be read, never make a table to reuse. */
  reuse.valid = counted && settled && t4 && t6;
  reuse.at = now;
  reuse.read_ms = ms;
  reuse.rows.len = 0;
  if (reuse.valid) put(&reuse.rows, b->p + from, b->len - from);
}

/*
 * With `owners` 0 the rows carry pid 0 and the table is the basic one: the agent asks for
 * owners (`tcp`) only when some flow goes to an address it cares about, as on Linux. On
 * Windows both tables are cheap; under wine the owner lookup walks every process's fds.
 */
static void list_tcp(buf_t *b, int owners, int reread) {
  puts_(b, "\"tcp\":[");
  first_row = 1;
  if (owners) {
    MIB_TCPTABLE_OWNER_PID *t4 = table(1, 1, AF_INET);
    for (DWORD i = 0; t4 && i < t4->dwNumEntries; i++) {
      MIB_TCPROW_OWNER_PID *r = &t4->table[i];
      tcp_row(b, r->dwOwningPid, AF_INET, &r->dwLocalAddr, r->dwLocalPort, &r->dwRemoteAddr, r->dwRemotePort, r->dwState);
    }
    MIB_TCP6TABLE_OWNER_PID *t6 = table(1, 1, AF_INET6);
    for (DWORD i = 0; t6 && i < t6->dwNumEntries; i++) {
      MIB_TCP6ROW_OWNER_PID *r = &t6->table[i];
      tcp_row(b, r->dwOwningPid, AF_INET6, r->ucLocalAddr, r->dwLocalPort, r->ucRemoteAddr, r->dwRemotePort, r->dwState);
    }
  } else {
    list_tcp_basic(b, reread);
  }
  put(b, "]", 1);
}

static void list_udp(buf_t *b) {
  puts_(b, "\"udp\":[");
  first_row = 1;
  MIB_UDPTABLE_OWNER_PID *t4 = table(0, 1, AF_INET);
  if (t4) {
    for (DWORD i = 0; i < t4->dwNumEntries; i++) {
      MIB_UDPROW_OWNER_PID *r = &t4->table[i];
      row_sep(b);
      putf(b, "[%lu,", (unsigned long)r->dwOwningPid);
      addr(b, AF_INET, &r->dwLocalAddr);
      putf(b, ",%u]", ntohs((u_short)r->dwLocalPort));
    }
  }
  MIB_UDP6TABLE_OWNER_PID *t6 = table(0, 1, AF_INET6);
  if (t6) {
    for (DWORD i = 0; i < t6->dwNumEntries; i++) {
      MIB_UDP6ROW_OWNER_PID *r = &t6->table[i];
      row_sep(b);
      putf(b, "[%lu,", (unsigned long)r->dwOwningPid);
      addr(b, AF_INET6, r->ucLocalAddr);
      putf(b, ",%u]", ntohs((u_short)r->dwLocalPort));
    }
  }
  put(b, "]", 1);
}

/* ---------- command lines ---------- */

typedef NTSTATUS(NTAPI *query_info_fn)(HANDLE, ULONG, PVOID, ULONG, PULONG);
#define PROCESS_COMMAND_LINE_INFORMATION 60

/* PEB fallback for systems (and wine versions) without ProcessCommandLineInformation. */
static char *cmd_from_peb(HANDLE h, query_info_fn query) {
  PROCESS_BASIC_INFORMATION pbi;
  ULONG got;
  if (query(h, ProcessBasicInformation, &pbi, sizeof pbi, &got) < 0 || !pbi.PebBaseAddress) return NULL;
  PEB peb;
  RTL_USER_PROCESS_PARAMETERS params;
  SIZE_T n;
  if (!ReadProcessMemory(h, pbi.PebBaseAddress, &peb, sizeof peb, &n)) return NULL;
  if (!ReadProcessMemory(h, peb.ProcessParameters, &params, sizeof params, &n)) return NULL;
  USHORT len = params.CommandLine.Length;
  wchar_t *w = malloc(len + sizeof(wchar_t));
  if (!w) return NULL;
  char *s = NULL;
  if (ReadProcessMemory(h, params.CommandLine.Buffer, w, len, &n)) s = utf8(w, len / 2);
  free(w);
  return s;
}

static char *command_line(DWORD pid, long long start_ms) {
  static query_info_fn query;
  if (!query) query = (query_info_fn)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationProcess");
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE, pid);
  if (!h) h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!h) return NULL;
  char *s = NULL;
  FILETIME created, exited, kernel, user;
  /* The same process the agent saw, not a newer one under a recycled pid. */
  if (GetProcessTimes(h, &created, &exited, &kernel, &user) &&
      unix_ms(((ULONGLONG)created.dwHighDateTime << 32) | created.dwLowDateTime) == start_ms) {
    union {
      UNICODE_STRING us;
      BYTE bytes[65536 + sizeof(UNICODE_STRING)];
    } *info = malloc(sizeof *info);
    ULONG got = 0;
    if (info && query && query(h, PROCESS_COMMAND_LINE_INFORMATION, info, sizeof *info, &got) >= 0 && info->us.Buffer)
      s = utf8(info->us.Buffer, info->us.Length / 2);
    free(info);
    if (!s && query) s = cmd_from_peb(h, query);
  }
  CloseHandle(h);
  return s;
}

static void answer_cmd(buf_t *b, char *args) {
  puts_(b, "{\"ok\":1,\"cmd\":[");
  int first = 1;
  for (char *tok = strtok(args, " "); tok; tok = strtok(NULL, " ")) {
    unsigned long pid;
    long long start;
    if (sscanf(tok, "%lu:%lld", &pid, &start) != 2) continue;
    char *cmd = command_line((DWORD)pid, start);
    if (!cmd) continue;
    if (!first) put(b, ",", 1);
    first = 0;
    putf(b, "[%lu,", pid);
    put_json_utf8(b, cmd);
    put(b, "]", 1);
    free(cmd);
  }
  puts_(b, "]}");
}

/* ---------- the request loop ---------- */

static HANDLE in_h, out_h;

static void flush_line(buf_t *b) {
  put(b, "\n", 1);
  size_t off = 0;
  while (off < b->len) {
    DWORD wrote = 0;
    if (!WriteFile(out_h, b->p + off, (DWORD)(b->len - off), &wrote, NULL) || wrote == 0) ExitProcess(0); /* agent gone */
    off += wrote;
  }
  b->len = 0;
}

static void answer(char *line) {
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
  int full = strcmp(line, "poll") == 0, reread = strcmp(line, "poll basic reread") == 0;
  int basic = reread || strcmp(line, "poll basic") == 0;
  if (full || basic) {
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    putf(&out, "{\"ok\":1,\"now\":%lld,", unix_ms(((ULONGLONG)now.dwHighDateTime << 32) | now.dwLowDateTime));
    if (!list_processes(&out)) {
      out.len = 0;
      puts_(&out, "{\"ok\":0,\"error\":\"NtQuerySystemInformation(SystemProcessInformation) failed\"}");
    } else {
      put(&out, ",", 1);
      list_tcp(&out, full, reread);
      put(&out, ",", 1);
      list_udp(&out);
      put(&out, "}", 1);
    }
  } else if (strcmp(line, "tcp") == 0) {
    puts_(&out, "{\"ok\":1,");
    list_tcp(&out, 1, 0);
    put(&out, "}", 1);
  } else if (strncmp(line, "cmd", 3) == 0 && (line[3] == ' ' || line[3] == 0)) {
    answer_cmd(&out, line + 3);
  } else {
    puts_(&out, "{\"ok\":0,\"error\":\"unknown request: expected poll, poll basic, poll basic reread, tcp or cmd PID:START...\"}");
  }
  flush_line(&out);
}

int wmain(void) {
  in_h = GetStdHandle(STD_INPUT_HANDLE);
  out_h = GetStdHandle(STD_OUTPUT_HANDLE);
  if (in_h == INVALID_HANDLE_VALUE || out_h == INVALID_HANDLE_VALUE || !in_h || !out_h) return 2;
  static char line[1 << 16];
  size_t used = 0;
  for (;;) {
    DWORD got = 0;
    if (!ReadFile(in_h, line + used, (DWORD)(sizeof line - 1 - used), &got, NULL) || got == 0) return 0; /* EOF: agent gone */
    used += got;
    char *start = line, *nl;
    while ((nl = memchr(start, '\n', used - (size_t)(start - line)))) {
      *nl = 0;
      answer(start);
      start = nl + 1;
    }
    used -= (size_t)(start - line);
    memmove(line, start, used);
    if (used >= sizeof line - 1) used = 0; /* a line longer than any request: drop it */
  }
}
