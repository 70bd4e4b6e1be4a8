/* What the two socket-reading jobs share (recv-into.c, recv-chunked.c). */
#ifndef BERTH_SOCKET_READ_H
#define BERTH_SOCKET_READ_H
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <uv.h>
#include "napi-util.h"

/* How long a job waits for bytes before it gives its pool thread back (the caller asks again). */
#define WAIT_MS 5

/* Waits up to WAIT_MS for `fd` to be readable: 1 readable, 0 nothing came, -1 failed (*error set). */
static inline int wait_readable(int fd, int *error) {
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, WAIT_MS);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) *error = errno;
    return r < 0 ? -1 : r;
  }
}

/*
 * After a read of the socket that returned n <= 0 (errno set when n < 0): 1 to read again, 0 to
 * end the job: the peer closed its side, an error (in *error), or nothing came for WAIT_MS
 * (*stalled when the job got nothing). `full`: the caller's range is full, so nothing is waited for.
 */
static inline int read_again(ssize_t n, int fd, size_t got, int full, int *error, int *stalled) {
  if (n == 0) return 0; /* the peer closed its side */
  if (errno == EINTR) return 1;
  if (errno != EAGAIN && errno != EWOULDBLOCK) {
    *error = errno;
    return 0;
  }
  if (full) return 0;
  int r = wait_readable(fd, error);
  if (r == 0) *stalled = got == 0;
  return r > 0;
}

/*
 * A socket-reading job's error for its callback: null when it went well, else an Error coded
 * ECANCELED (the job was cancelled), EAGAIN (nothing arrived for WAIT_MS) or the errno's name.
 */
static inline napi_value socket_read_error(napi_env env, napi_status status, int error, int stalled) {
  napi_value v;
  if (status == napi_ok && error == 0 && !stalled) {
    napi_get_null(env, &v);
    return v;
  }
  const char *name = status != napi_ok ? "ECANCELED" : stalled ? "EAGAIN" : uv_err_name(-error);
  char text[256];
  snprintf(text, sizeof text, "%s: %s, socket read", name, status != napi_ok ? "cancelled" : stalled ? "nothing arrived" : strerror(error));
  return coded_error(env, name, text);
}

/* A duplicate of the caller's socket descriptor for a job (closed when the job completes), or -1
   after throwing: closing the original meanwhile cannot redirect the job's reads elsewhere. */
static inline int dup_socket(napi_env env, int fd, const char *who) {
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    char text[128];
    snprintf(text, sizeof text, "%s: cannot duplicate the socket descriptor", who);
    napi_throw_error(env, NULL, text);
  }
  return dup;
}
#endif
