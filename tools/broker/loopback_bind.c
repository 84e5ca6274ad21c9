/*
 * tools/broker/loopback_bind.c — LD_PRELOAD shim that keeps Mosquitto on loopback.
 *
 * Mosquitto 2.0.11 ignores the bind address (and bind_interface) of its WebSocket
 * listeners: libwebsockets binds them to the wildcard address, reachable from the
 * network. tools/broker/control.py builds this file with `cc` into the run dir and starts
 * Mosquitto with it in LD_PRELOAD: every bind() to the IPv4 wildcard becomes 127.0.0.1 and
 * every bind() to the IPv6 wildcard becomes ::ffff:127.0.0.1 on a dual-stack socket (IPv4
 * loopback clients still connect) or ::1 on an IPv6-only one. Binds to a named address
 * are left alone. It must never widen a bind, and it touches nothing but bind().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static bind_fn real_bind;
  if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
  if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in a;
    memcpy(&a, addr, sizeof a);
    if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
    }
  } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 a;
    memcpy(&a, addr, sizeof a);
    if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
      int v6only = 0;
      socklen_t n = sizeof v6only;
      if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &n) == 0 && v6only) {
        a.sin6_addr = in6addr_loopback;
      } else {
        static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
        memcpy(&a.sin6_addr, mapped, sizeof mapped);
      }
      return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
    }
  }
  return real_bind(fd, addr, len);
}
