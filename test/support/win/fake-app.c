/*
 * A stand-in for a video app, for tests under wine: `fake-app HOST PORT SECONDS` holds a
 * UDP socket on loopback and a TCP connection to HOST:PORT, sends one byte on each, prints
 * "udp PORT" and waits SECONDS (or until killed). Tests copy it to
 * C:\Program Files\Zoom\bin\Zoom.exe (and Zoë.exe) inside a wine prefix.
 * Build: x86_64-w64-mingw32-gcc -O2 -s fake-app.c -lws2_32
 */
#define _WIN32_WINNT 0x0601
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  WSADATA w;
  if (WSAStartup(MAKEWORD(2, 2), &w)) return 3;
  SOCKET u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(u, (struct sockaddr *)&a, sizeof a)) return 4;
  int len = sizeof a;
  getsockname(u, (struct sockaddr *)&a, &len);
  SOCKET t = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  struct sockaddr_in r = {0};
  r.sin_family = AF_INET;
  inet_pton(AF_INET, argv[1], &r.sin_addr);
  r.sin_port = htons((u_short)atoi(argv[2]));
  if (connect(t, (struct sockaddr *)&r, sizeof r)) return 5;
  /* Real traffic on both sockets, as a call would: wine hands the socket's unix fd to the
     process only when it does I/O itself, and its owner lookup finds sockets by that fd. */
  send(t, "x", 1, 0);
  sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
  char c;
  recv(u, &c, 1, 0);
  printf("udp %u\n", ntohs(a.sin_port));
  fflush(stdout);
  Sleep((DWORD)atoi(argv[3]) * 1000);
  return 0;
}
