/*
 * An upload's body read from its socket on the thread pool, straight into the caller's buffer.
 *
 * Why: Node.js reads a socket 64 KiB at a time on the main thread and hands each piece through the
 * HTTP parser, a Buffer, the request stream and the upload's own streams before it is copied into
 * a staging buffer; a 1 GiB upload cost the main thread 0.74-0.83 s of CPU that way (2 cores, the
 * client on the same machine). Here the same bytes go from the kernel into the staging buffer in
 * one copy, on a pool thread, with no JS object per piece.
 *
 * A job reads until the buffer's range is full, the peer closes, or no byte came for WAIT_MS; it
 * never waits longer, so a slow or stalled client holds a pool thread for at most WAIT_MS at a time
 * (the caller waits on the event loop before it asks again). It reads at most `length` bytes, so
 * whatever the client sends after the body (a next request) stays in the socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "napi-util.h"
#include "socket-read.h"

typedef struct {
  int fd; /* a duplicate, closed in complete */
  uint8_t *data;
  size_t length;
  size_t got;
  int stalled; /* nothing arrived for WAIT_MS */
  int error;
  napi_ref buffer;
  napi_ref callback;
  napi_async_work work;
} job_t;

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  while (job->got < job->length) {
    ssize_t n = read(job->fd, job->data + job->got, job->length - job->got);
    if (n > 0) {
      job->got += (size_t)n;
      continue;
    }
    if (!read_again(n, job->fd, job->got, 0, &job->error, &job->stalled)) return;
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  close(job->fd);
  napi_value argv[2];
  argv[0] = socket_read_error(env, status, job->error, job->stalled);
  napi_create_double(env, (double)job->got, &argv[1]);
  call_back_and_finish(env, job->callback, job->work, 2, argv);
  napi_delete_reference(env, job->buffer);
  free(job);
}

/*
 * recvInto(socketFd, buffer, offset, length, callback(err, n)): on the thread pool, reads up to
 * `length` bytes from the socket into buffer[offset..]. n bytes arrived; err null and n < length:
 * the peer closed its side (n 0: nothing more will come); err.code EAGAIN: nothing arrived for a
 * few milliseconds, ask again. The socket descriptor is duplicated before the call returns; the
 * caller keeps the buffer until the callback and reads the socket no other way meanwhile.
 */
static napi_value recv_into(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t4 = napi_undefined;
  if (argc == 5) napi_typeof(env, argv[4], &t4);
  int32_t fd = -1;
  uint8_t *data = NULL;
  size_t length = 0;
  if (t4 != napi_function || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || !buffer_range(env, argv[1], argv[2], argv[3], &data, &length)) {
    napi_throw_error(env, NULL, "recvInto(socketFd, buffer, offset, length, callback): bad arguments");
    return NULL;
  }
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if ((job->fd = dup_socket(env, fd, "recvInto")) < 0) {
    free(job);
    return NULL;
  }
  job->data = data;
  job->length = length;
  napi_create_reference(env, argv[1], 1, &job->buffer);
  napi_create_reference(env, argv[4], 1, &job->callback);
  napi_value name;
  napi_create_string_utf8(env, "berth-recv-into", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

napi_value recv_into_init(napi_env env, napi_value exports) {
  export_function(env, exports, "recvInto", recv_into);
  return exports;
}
