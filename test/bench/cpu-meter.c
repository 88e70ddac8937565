/*
 * cpu-meter OUT CMD ARGS...: runs CMD and writes to OUT the user+system CPU (microseconds)
 * of CMD and of every process it started, including orphans. Wine starts each Windows
 * process with a double fork, so its processes are not the caller's children: as a child
 * subreaper this program inherits them and reaps them, so their CPU is counted.
 * Build: cc -O2 -o cpu-meter cpu-meter.c (Linux only; used by test/bench/win.ts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cpu-meter OUT CMD ARGS...\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    perror("prctl(PR_SET_CHILD_SUBREAPER)");
    return 2;
  }
  pid_t main_pid = fork();
  if (main_pid == 0) {
    execvp(argv[2], argv + 2);
    perror("exec");
    _exit(127);
  }
  int status = 0, main_status = 0;
  pid_t pid;
  /* Every descendant, not only CMD: the orphans come here when their parent exits. */
  while ((pid = wait(&status)) > 0 || (pid < 0 && errno == EINTR))
    if (pid == main_pid) main_status = status;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  FILE *f = fopen(argv[1], "w");
  if (!f) return 2;
  fprintf(f, "%lld\n", (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  fclose(f);
  return WIFEXITED(main_status) ? WEXITSTATUS(main_status) : 1;
}
