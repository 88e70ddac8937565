/*
 * consultguard-devices.exe: which processes use a microphone or camera right now, for the
 * nudge helper (it runs this as the user, in the user's session: capture sessions and the
 * consent store are per user). One line per fact, UTF-8, tab-separated; parsed by
 * agent/collect/devices/win32.ts:
 *
 *   source  microphone|camera  ok|unavailable  [HRESULT]   whether the primary API answered
 *   microphone  <pid>                Core Audio: an active capture session of that process
 *   camera      <pid>                IMFSensorActivityMonitor: that process is streaming
 *   consent  microphone|webcam  package|path  <name>  <LastUsedTimeStart>  <LastUsedTimeStop>
 *                                    CapabilityAccessManager\ConsentStore (fallback only: it
 *                                    goes stale on recent builds, so the parser uses it for a
 *                                    kind only when that kind's primary source is unavailable)
 *
 * Only "in use" is read, never audio or video. Built GUI-subsystem (no console flash):
 *   x86_64-w64-mingw32-gcc -municode -mwindows -O2 -s devices.c -lole32 -luuid -ladvapi32
 */
#define WIN32_LEAN_AND_MEAN
#define COBJMACROS
#define _WIN32_WINNT 0x0A00
#include <windows.h>
#include <initguid.h>
#include <audiopolicy.h>
#include <mmdeviceapi.h>
#include <stdio.h>
#include <wchar.h>

static HANDLE out;

static void emit(const wchar_t *fmt, ...) {
  wchar_t line[1200];
  char utf8[3600];
  va_list ap;
  DWORD written;
  int n;
  va_start(ap, fmt);
  _vsnwprintf(line, 1199, fmt, ap);
  va_end(ap);
  line[1199] = 0;
  n = WideCharToMultiByte(CP_UTF8, 0, line, -1, utf8, sizeof utf8, NULL, NULL);
  if (n > 1) WriteFile(out, utf8, n - 1, &written, NULL);
}

/* Active capture sessions on every active capture endpoint (pid 0 is the system's own). */
static void microphones(void) {
  IMMDeviceEnumerator *devices = NULL;
  IMMDeviceCollection *endpoints = NULL;
  UINT count = 0;
  HRESULT hr = CoCreateInstance(&CLSID_MMDeviceEnumerator, NULL, CLSCTX_ALL, &IID_IMMDeviceEnumerator, (void **)&devices);
  if (SUCCEEDED(hr)) hr = IMMDeviceEnumerator_EnumAudioEndpoints(devices, eCapture, DEVICE_STATE_ACTIVE, &endpoints);
  if (SUCCEEDED(hr)) hr = IMMDeviceCollection_GetCount(endpoints, &count);
  if (FAILED(hr)) {
    emit(L"source\tmicrophone\tunavailable\t0x%08lx\n", (unsigned long)hr);
  } else {
    emit(L"source\tmicrophone\tok\n");
  }
  for (UINT i = 0; SUCCEEDED(hr) && i < count; i++) {
    IMMDevice *device = NULL;
    IAudioSessionManager2 *manager = NULL;
    IAudioSessionEnumerator *sessions = NULL;
    int n = 0;
    if (FAILED(IMMDeviceCollection_Item(endpoints, i, &device))) continue;
    if (SUCCEEDED(IMMDevice_Activate(device, &IID_IAudioSessionManager2, CLSCTX_ALL, NULL, (void **)&manager)) &&
        SUCCEEDED(IAudioSessionManager2_GetSessionEnumerator(manager, &sessions)) && SUCCEEDED(IAudioSessionEnumerator_GetCount(sessions, &n))) {
      for (int s = 0; s < n; s++) {
        IAudioSessionControl *control = NULL;
        IAudioSessionControl2 *control2 = NULL;
        AudioSessionState state;
        DWORD pid = 0;
        if (FAILED(IAudioSessionEnumerator_GetSession(sessions, s, &control))) continue;
        if (SUCCEEDED(IAudioSessionControl_QueryInterface(control, &IID_IAudioSessionControl2, (void **)&control2))) {
          if (SUCCEEDED(IAudioSessionControl2_GetState(control2, &state)) && state == AudioSessionStateActive &&
              SUCCEEDED(IAudioSessionControl2_GetProcessId(control2, &pid)) && pid != 0) {
            emit(L"microphone\t%lu\n", pid);
          }
          IAudioSessionControl2_Release(control2);
        }
        IAudioSessionControl_Release(control);
      }
    }
    if (sessions) IAudioSessionEnumerator_Release(sessions);
    if (manager) IAudioSessionManager2_Release(manager);
    IMMDevice_Release(device);
  }
  if (endpoints) IMMDeviceCollection_Release(endpoints);
  if (devices) IMMDeviceEnumerator_Release(devices);
}

/*
 * Cameras: IMFSensorActivityMonitor (Windows 10 1703+, mfsensorgroup.dll). mingw has no
 * header for it: the vtables below follow mfidl.h of the Windows SDK, in order.
 */
typedef struct ProcessActivity ProcessActivity;
typedef struct {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(ProcessActivity *, REFIID, void **);
  ULONG(STDMETHODCALLTYPE *AddRef)(ProcessActivity *);
  ULONG(STDMETHODCALLTYPE *Release)(ProcessActivity *);
  HRESULT(STDMETHODCALLTYPE *GetProcessId)(ProcessActivity *, ULONG *);
  HRESULT(STDMETHODCALLTYPE *GetStreamingState)(ProcessActivity *, BOOL *);
} ProcessActivityVtbl;
struct ProcessActivity { const ProcessActivityVtbl *v; };

typedef struct ActivityReport ActivityReport;
typedef struct {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(ActivityReport *, REFIID, void **);
  ULONG(STDMETHODCALLTYPE *AddRef)(ActivityReport *);
  ULONG(STDMETHODCALLTYPE *Release)(ActivityReport *);
  HRESULT(STDMETHODCALLTYPE *GetFriendlyName)(ActivityReport *, LPWSTR, ULONG, ULONG *);
  HRESULT(STDMETHODCALLTYPE *GetSymbolicLink)(ActivityReport *, LPWSTR, ULONG, ULONG *);
  HRESULT(STDMETHODCALLTYPE *GetProcessCount)(ActivityReport *, ULONG *);
  HRESULT(STDMETHODCALLTYPE *GetProcessActivity)(ActivityReport *, ULONG, ProcessActivity **);
} ActivityReportVtbl;
struct ActivityReport { const ActivityReportVtbl *v; };

typedef struct ActivitiesReport ActivitiesReport;
typedef struct {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(ActivitiesReport *, REFIID, void **);
  ULONG(STDMETHODCALLTYPE *AddRef)(ActivitiesReport *);
  ULONG(STDMETHODCALLTYPE *Release)(ActivitiesReport *);
  HRESULT(STDMETHODCALLTYPE *GetCount)(ActivitiesReport *, ULONG *);
  HRESULT(STDMETHODCALLTYPE *GetActivityReport)(ActivitiesReport *, ULONG, ActivityReport **);
} ActivitiesReportVtbl;
struct ActivitiesReport { const ActivitiesReportVtbl *v; };

typedef struct Monitor Monitor;
typedef struct {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(Monitor *, REFIID, void **);
  ULONG(STDMETHODCALLTYPE *AddRef)(Monitor *);
  ULONG(STDMETHODCALLTYPE *Release)(Monitor *);
  HRESULT(STDMETHODCALLTYPE *Start)(Monitor *);
  HRESULT(STDMETHODCALLTYPE *Stop)(Monitor *);
} MonitorVtbl;
struct Monitor { const MonitorVtbl *v; };

typedef struct Callback Callback;
typedef struct {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(Callback *, REFIID, void **);
  ULONG(STDMETHODCALLTYPE *AddRef)(Callback *);
  ULONG(STDMETHODCALLTYPE *Release)(Callback *);
  HRESULT(STDMETHODCALLTYPE *OnActivitiesReport)(Callback *, ActivitiesReport *);
} CallbackVtbl;
struct Callback { const CallbackVtbl *v; };

/* IID_IMFSensorActivitiesReportCallback {DE5072EE-DBE3-46DC-8A87-B6F631194751} */
static const GUID IID_ReportCallback = {0xde5072ee, 0xdbe3, 0x46dc, {0x8a, 0x87, 0xb6, 0xf6, 0x31, 0x19, 0x47, 0x51}};
static HANDLE reported;

static HRESULT STDMETHODCALLTYPE cb_query(Callback *self, REFIID iid, void **obj) {
  if (IsEqualGUID(iid, &IID_IUnknown) || IsEqualGUID(iid, &IID_ReportCallback)) {
    *obj = self;
    return S_OK;
  }
  *obj = NULL;
  return E_NOINTERFACE;
}
static ULONG STDMETHODCALLTYPE cb_addref(Callback *self) { (void)self; return 2; }
static ULONG STDMETHODCALLTYPE cb_release(Callback *self) { (void)self; return 1; }

/* Called on an MF thread with every camera's current streaming processes; the first is enough. */
static HRESULT STDMETHODCALLTYPE cb_report(Callback *self, ActivitiesReport *report) {
  ULONG n = 0;
  (void)self;
  if (WaitForSingleObject(reported, 0) == WAIT_OBJECT_0) return S_OK;
  if (SUCCEEDED(report->v->GetCount(report, &n))) {
    for (ULONG i = 0; i < n; i++) {
      ActivityReport *camera = NULL;
      ULONG procs = 0;
      if (FAILED(report->v->GetActivityReport(report, i, &camera))) continue;
      if (SUCCEEDED(camera->v->GetProcessCount(camera, &procs))) {
        for (ULONG p = 0; p < procs; p++) {
          ProcessActivity *activity = NULL;
          ULONG pid = 0;
          BOOL streaming = FALSE;
          if (FAILED(camera->v->GetProcessActivity(camera, p, &activity))) continue;
          if (SUCCEEDED(activity->v->GetStreamingState(activity, &streaming)) && streaming && SUCCEEDED(activity->v->GetProcessId(activity, &pid))) {
            emit(L"camera\t%lu\n", pid);
          }
          activity->v->Release(activity);
        }
      }
      camera->v->Release(camera);
    }
  }
  SetEvent(reported);
  return S_OK;
}

static const CallbackVtbl callback_vtbl = {cb_query, cb_addref, cb_release, cb_report};
static Callback callback = {&callback_vtbl};
typedef HRESULT(WINAPI *CreateMonitor)(Callback *, Monitor **);

static void cameras(void) {
  HMODULE dll = LoadLibraryW(L"mfsensorgroup.dll");
  CreateMonitor create = dll ? (CreateMonitor)(void *)GetProcAddress(dll, "MFCreateSensorActivityMonitor") : NULL;
  Monitor *monitor = NULL;
  HRESULT hr = create ? create(&callback, &monitor) : HRESULT_FROM_WIN32(ERROR_PROC_NOT_FOUND);
  reported = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (SUCCEEDED(hr)) hr = monitor->v->Start(monitor);
  /* The monitor reports the current state at once; no report in time means it cannot tell. */
  if (SUCCEEDED(hr) && WaitForSingleObject(reported, 2000) != WAIT_OBJECT_0) hr = HRESULT_FROM_WIN32(ERROR_TIMEOUT);
  if (monitor) {
    monitor->v->Stop(monitor);
    SetEvent(reported);
    monitor->v->Release(monitor);
  }
  if (FAILED(hr)) emit(L"source\tcamera\tunavailable\t0x%08lx\n", (unsigned long)hr);
  else emit(L"source\tcamera\tok\n");
}

static void consent_key(HKEY parent, const wchar_t *kind, const wchar_t *name, const wchar_t *form) {
  HKEY key;
  ULONGLONG start = 0, stop = 0;
  DWORD size = sizeof start;
  if (RegOpenKeyExW(parent, name, 0, KEY_READ, &key) != ERROR_SUCCESS) return;
  if (RegQueryValueExW(key, L"LastUsedTimeStart", NULL, NULL, (BYTE *)&start, &size) == ERROR_SUCCESS) {
    size = sizeof stop;
    RegQueryValueExW(key, L"LastUsedTimeStop", NULL, NULL, (BYTE *)&stop, &size);
    emit(L"consent\t%ls\t%ls\t%ls\t%llu\t%llu\n", kind, form, name, start, stop);
  }
  RegCloseKey(key);
}

static void consent_store(const wchar_t *kind) {
  wchar_t path[256], name[512];
  HKEY key, nonpackaged;
  swprintf(path, 256, L"Software\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore\\%ls", kind);
  if (RegOpenKeyExW(HKEY_CURRENT_USER, path, 0, KEY_READ, &key) != ERROR_SUCCESS) return;
  for (DWORD i = 0;; i++) {
    DWORD len = 512;
    if (RegEnumKeyExW(key, i, name, &len, NULL, NULL, NULL, NULL) != ERROR_SUCCESS) break;
    if (wcscmp(name, L"NonPackaged") != 0) consent_key(key, kind, name, L"package");
  }
  if (RegOpenKeyExW(key, L"NonPackaged", 0, KEY_READ, &nonpackaged) == ERROR_SUCCESS) {
    for (DWORD i = 0;; i++) {
      DWORD len = 512;
      if (RegEnumKeyExW(nonpackaged, i, name, &len, NULL, NULL, NULL, NULL) != ERROR_SUCCESS) break;
      consent_key(nonpackaged, kind, name, L"path");
    }
    RegCloseKey(nonpackaged);
  }
  RegCloseKey(key);
}

int WINAPI wWinMain(HINSTANCE instance, HINSTANCE prev, LPWSTR cmdline, int show) {
  (void)instance;
  (void)prev;
  (void)cmdline;
  (void)show;
  out = GetStdHandle(STD_OUTPUT_HANDLE);
  CoInitializeEx(NULL, COINIT_MULTITHREADED);
  microphones();
  cameras();
  consent_store(L"microphone");
  consent_store(L"webcam");
  CoUninitialize();
  return 0;
}
