/*
 * %ProgramData%\ConsultGuard locked down. ProgramData lets every user create folders and
 * read what they inherit, and Node's mode bits set no ACL, so the installer (and the
 * service at each start) makes each folder itself:
 *   - through a handle opened with FILE_FLAG_OPEN_REPARSE_POINT, whose attributes are checked
 *     before anything is done through it: a junction or symlink planted in place of a folder
 *     is removed (never followed) and a real folder is made;
 *   - a folder owned by anyone but SYSTEM, Administrators or the service's own account was not
 *     made by the service: its contents are deleted (without following links) and it is made
 *     again, never trusted;
 *   - its DACL set on that handle with SetSecurityInfo, PROTECTED (nothing inherited from
 *     ProgramData): the SDDL strings come from acl.ts (generated acl-sddl.h, unit-tested).
 * Wine (CI) maps a DACL to unix modes only: real ACLs are checked with icacls in the pilot.
 */
#include "service-host.h"
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <wchar.h>
#include "acl-sddl.h"

static const wchar_t *SUBDIRS[] = {L"agent", L"logs", L"nudge"};

/* Deletes a folder tree; reparse points are removed, never followed. */
void delete_tree(const wchar_t *dir) {
  wchar_t pattern[MAX_PATH], path[MAX_PATH];
  WIN32_FIND_DATAW fd;
  HANDLE h;
  DWORD top = GetFileAttributesW(dir);
  if (top == INVALID_FILE_ATTRIBUTES) return;
  if (top & FILE_ATTRIBUTE_REPARSE_POINT || !(top & FILE_ATTRIBUTE_DIRECTORY)) {
    if (!RemoveDirectoryW(dir)) DeleteFileW(dir); /* the link itself, not what it points at */
    return;
  }
  swprintf(pattern, MAX_PATH, L"%ls\\*", dir);
  h = FindFirstFileW(pattern, &fd);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) continue;
      swprintf(path, MAX_PATH, L"%ls\\%ls", dir, fd.cFileName);
      if ((fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) && !(fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
        delete_tree(path);
      } else if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        RemoveDirectoryW(path);
      } else {
        SetFileAttributesW(path, FILE_ATTRIBUTE_NORMAL);
        DeleteFileW(path);
      }
    } while (FindNextFileW(h, &fd));
    FindClose(h);
  }
  RemoveDirectoryW(dir);
}

static BOOL token_user_is(PSID sid) {
  HANDLE token;
  BYTE buf[256];
  DWORD len;
  BOOL same = FALSE;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return FALSE;
  if (GetTokenInformation(token, TokenUser, buf, sizeof buf, &len)) same = EqualSid(((TOKEN_USER *)buf)->User.Sid, sid);
  CloseHandle(token);
  return same;
}

static BOOL trusted_owner(PSID owner) {
  return owner != NULL && (IsWellKnownSid(owner, WinLocalSystemSid) || IsWellKnownSid(owner, WinBuiltinAdministratorsSid) || token_user_is(owner));
}

/* A reparse point or not a folder, by the no-follow handle or by the path itself: Windows
   reports a junction either way; wine follows a unix symlink through the handle and shows
   it only through the path. */
static BOOL is_link_or_file(const wchar_t *path, const BY_HANDLE_FILE_INFORMATION *info) {
  DWORD by_path = GetFileAttributesW(path);
  if ((info->dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) || !(info->dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) return TRUE;
  return by_path == INVALID_FILE_ATTRIBUTES || (by_path & FILE_ATTRIBUTE_REPARSE_POINT) || !(by_path & FILE_ATTRIBUTE_DIRECTORY);
}

static HANDLE open_no_follow(const wchar_t *path) {
  return CreateFileW(path, READ_CONTROL | WRITE_DAC | WRITE_OWNER | FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
}

/* 1: a real folder owned by a trusted account; 0: something to replace; -1: cannot tell. */
static int check_existing(const wchar_t *path) {
  BY_HANDLE_FILE_INFORMATION info;
  PSID owner = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  int verdict;
  HANDLE h = open_no_follow(path);
  if (h == INVALID_HANDLE_VALUE) return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
  if (!GetFileInformationByHandle(h, &info)) {
    CloseHandle(h);
    return -1;
  }
  if (is_link_or_file(path, &info)) {
    CloseHandle(h);
    return 0;
  }
  verdict = GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL, &sd) == ERROR_SUCCESS && trusted_owner(owner);
  if (sd) LocalFree(sd);
  CloseHandle(h);
  return verdict;
}

/* Makes `path` a folder of ours with exactly the DACL of `sddl`. 0 on success. */
int secure_dir(const wchar_t *path, const wchar_t *sddl) {
  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, FALSE};
  PSECURITY_DESCRIPTOR sd;
  PACL dacl = NULL;
  BOOL present = FALSE, defaulted = FALSE;
  BY_HANDLE_FILE_INFORMATION info;
  HANDLE h;
  DWORD err;
  int state = check_existing(path);
  if (state < 0) {
    log_line("secure-dirs: cannot inspect %ls (error %lu)", path, GetLastError());
    return 1;
  }
  /* Logged only once replaced: the log itself may live behind the link being removed. */
  BOOL replaced = FALSE;
  if (state == 0 && GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES) {
    delete_tree(path);
    replaced = TRUE;
  }
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL)) {
    log_line("secure-dirs: bad SDDL %ls (error %lu)", sddl, GetLastError());
    return 1;
  }
  sa.lpSecurityDescriptor = sd;
  if (!CreateDirectoryW(path, &sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
    log_line("secure-dirs: cannot create %ls (error %lu)", path, GetLastError());
    LocalFree(sd);
    return 1;
  }
  /* Set again through a no-follow handle: the folder may have existed, and the check above
     and this call must be about the same object (a swap in between is caught here). */
  h = open_no_follow(path);
  if (h == INVALID_HANDLE_VALUE || !GetFileInformationByHandle(h, &info) || is_link_or_file(path, &info)) {
    log_line("secure-dirs: %ls changed under us; not using it", path);
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
    LocalFree(sd);
    return 1;
  }
  GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
  err = SetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL, dacl, NULL);
  CloseHandle(h);
  LocalFree(sd);
  if (err != ERROR_SUCCESS) {
    log_line("secure-dirs: cannot set the ACL of %ls (error %lu)", path, err);
    return 1;
  }
  if (replaced) log_line("secure-dirs: %ls was not made by the service (a link, a file or another owner): replaced it", path);
  return 0;
}

/* %ProgramData%\ConsultGuard and the folders the agent writes: SYSTEM and Administrators. */
int secure_dirs(void) {
  wchar_t path[MAX_PATH];
  int failed = secure_dir(data_dir, CG_SDDL_DATA_DIR);
  for (size_t i = 0; i < sizeof SUBDIRS / sizeof SUBDIRS[0]; i++) {
    swprintf(path, MAX_PATH, L"%ls\\%ls", data_dir, SUBDIRS[i]);
    failed |= secure_dir(path, wcscmp(SUBDIRS[i], L"nudge") == 0 ? CG_SDDL_NUDGE_ROOT : CG_SDDL_DATA_DIR);
  }
  return failed;
}

/* A user's nudge folder (the agent runs this before writing the user's key there):
   SYSTEM and Administrators full, that user read, nobody else. */
int user_dir(const wchar_t *dir, const wchar_t *account) {
  BYTE sid[SECURITY_MAX_SID_SIZE];
  wchar_t domain[256], sddl[512], parent[MAX_PATH], *sid_text = NULL, *slash;
  DWORD sid_len = sizeof sid, domain_len = 256;
  SID_NAME_USE use;
  int rc;
  if (!LookupAccountNameW(NULL, account, sid, &sid_len, domain, &domain_len, &use)) {
    fprintf(stderr, "user-dir: unknown account %ls (error %lu)\n", account, GetLastError());
    return 2;
  }
  if (!ConvertSidToStringSidW(sid, &sid_text)) return 1;
  swprintf(sddl, 512, CG_SDDL_USER_DIR_FMT, sid_text);
  LocalFree(sid_text);
  wcsncpy(parent, dir, MAX_PATH - 1);
  parent[MAX_PATH - 1] = 0;
  slash = wcsrchr(parent, L'\\');
  if (slash == NULL) return 2;
  *slash = 0;
  if (secure_dir(parent, CG_SDDL_NUDGE_ROOT) != 0) return 1;
  rc = secure_dir(dir, sddl);
  if (rc == 0) log_line("user-dir: %ls ready for %ls", dir, account);
  return rc;
}
