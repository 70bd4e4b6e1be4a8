/*
 * Blob downloads for Berth: the bytes of a file range go to the socket from the libuv thread
 * pool instead of through Node.js streams (which move every 64 KiB chunk through JS objects and
 * the event loop). A range larger than COPY_BYTES is read (pread) and written (write) through a
 * buffer; a smaller one goes with sendfile(2).
 *
 * Why both: over loopback (the benchmark's path, and a reverse proxy's on the same host) a
 * 1 GiB blob by curl went at 1,464-1,805 MB/s with sendfile and 0.51-0.54 s of server CPU per
 * GiB, against 2,311-2,621 MB/s and 0.40-0.43 s with the copy (interleaved with CNCF
 * Distribution, which copies 32 KiB at a time: 1,623-2,199 MB/s, 0.50-0.57 s). Likely why: on
 * loopback the receiving side's work runs on the sending CPU, and the page fragments that
 * sendfile queues cost it more than copied data. But pulls of small images (1-100 KiB blobs)
 * cost 1.40-1.62 ms of server CPU per image with the copy (a 256 KiB buffer per call) against
 * 1.10-1.60 with sendfile, the copy higher in each of eight interleaved pairs; so small ranges
 * keep sendfile. (A buffer kept per thread in __thread storage made even the sendfile path
 * slower, 1.34-1.68 vs 1.14-1.26 ms, for reasons not found: the buffer is allocated per call.)
 * Over a real network card sendfile saves a copy; that was not measured here.
 *
 * The work runs on the libuv thread pool, which Node.js's file operations share: a job holds its
 * thread only while the socket takes bytes (the caller bounds how many jobs run at once). The
 * socket is non-blocking (libuv's); when its send buffer is full the
 * worker waits for room with poll(2) for at most WAIT_MS, then returns what it sent with the code
 * EAGAIN, and the caller queues the rest again (and decides when a reader has stalled for too long).
 * Both descriptors are dup(2)ed on the calling thread first: if Node.js closes the connection
 * meanwhile, its descriptor number may be reused by another connection, and the duplicate keeps
 * these bytes on this one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <fcntl.h>
#include <unistd.h>
#include "napi-util.h"

/* A close-on-exec duplicate. */
static int fcntl_dup(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

#define WAIT_MS 50
/* Ranges larger than this are copied, this many bytes at a time (1 MiB measured the same on 1 GiB). */
#define COPY_BYTES (256 * 1024)

typedef struct {
  int sock;
  int file;
  int64_t offset;
  int64_t length;
  int64_t sent;
  int error; /* errno, or EAGAIN when the socket had no room for WAIT_MS, or EIO for a file shorter than asked */
  napi_ref callback;
  napi_async_work work;
} job_t;

/* Waits up to WAIT_MS for room in the socket: 0 when there is room; otherwise sets job->error. */
static int wait_writable(job_t *job) {
  struct pollfd p = {.fd = job->sock, .events = POLLOUT};
  int r = poll(&p, 1, WAIT_MS);
  if (r == 0) {
    job->error = EAGAIN;
    return -1;
  }
  if (r < 0 && errno != EINTR) {
    job->error = errno;
    return -1;
  }
  if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLOUT)) {
    job->error = EPIPE;
    return -1;
  }
  return 0;
}

/* A small range: sendfile(2), one call (it fits the socket's buffer unless the reader lags). */
static void send_small(job_t *job) {
  off_t off = (off_t)job->offset + (off_t)job->sent;
  while (job->sent < job->length) {
    ssize_t n = sendfile(job->sock, job->file, &off, (size_t)(job->length - job->sent));
    if (n > 0) {
      job->sent += n;
    } else if (n == 0) {
      job->error = EIO; /* the file is shorter than asked */
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      if (wait_writable(job) != 0) return;
    } else {
      job->error = errno;
      return;
    }
  }
}

/* A large range: read and written COPY_BYTES at a time through a buffer allocated for this call. */
static void copy_large(job_t *job) {
  char *buf = malloc(COPY_BYTES);
  if (!buf) {
    job->error = ENOMEM;
    return;
  }
  while (job->sent < job->length) {
    int64_t left = job->length - job->sent;
    size_t want = left > COPY_BYTES ? (size_t)COPY_BYTES : (size_t)left;
    ssize_t r = pread(job->file, buf, want, (off_t)(job->offset + job->sent));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      job->error = r == 0 ? EIO : errno; /* EIO: the file is shorter than asked */
      break;
    }
    /* Whatever is not written before a wait gives up is read again by the next call (from offset + sent). */
    size_t done = 0;
    while (done < (size_t)r) {
      ssize_t w = write(job->sock, buf + done, (size_t)r - done);
      if (w > 0) {
        done += (size_t)w;
        job->sent += w;
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && errno == EAGAIN) {
        if (wait_writable(job) != 0) goto out;
      } else {
        job->error = w < 0 ? errno : EIO;
        goto out;
      }
    }
  }
out:
  free(buf);
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  if (job->length <= COPY_BYTES) send_small(job);
  else copy_large(job);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  close(job->sock);
  close(job->file);
  napi_value argv[2];
  if (status != napi_ok || job->error != 0) {
    const char *name = status != napi_ok ? "ECANCELED" : job->error == EAGAIN ? "EAGAIN" : job->error == EPIPE ? "EPIPE" : job->error == ECONNRESET ? "ECONNRESET" : job->error == EIO ? "EIO" : "ESENDFILE";
    argv[0] = coded_error(env, name, status != napi_ok ? "cancelled" : strerror(job->error));
  } else {
    napi_get_null(env, &argv[0]);
  }
  napi_create_int64(env, job->sent, &argv[1]);
  call_back_and_finish(env, job->callback, job->work, 2, argv);
  free(job);
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "sendfile(socketFd, fileFd, offset, length, callback)");
    return NULL;
  }
  int32_t sock, file;
  int64_t offset, length;
  napi_valuetype cbType;
  napi_typeof(env, argv[4], &cbType);
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &file) != napi_ok ||
      napi_get_value_int64(env, argv[2], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      cbType != napi_function || sock < 0 || file < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, NULL, "sendfile(socketFd, fileFd, offset, length, callback): bad arguments");
    return NULL;
  }
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->sock = fcntl_dup(sock);
  job->file = fcntl_dup(file);
  if (job->sock < 0 || job->file < 0) {
    if (job->sock >= 0) close(job->sock);
    if (job->file >= 0) close(job->file);
    free(job);
    napi_throw_error(env, "EBADF", "cannot duplicate the descriptors");
    return NULL;
  }
  job->offset = offset;
  job->length = length;
  napi_value name;
  napi_create_string_utf8(env, "berth-sendfile", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[4], 1, &job->callback);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

napi_value durable_write_init(napi_env env, napi_value exports);
napi_value hash_write_init(napi_env env, napi_value exports);
napi_value recv_into_init(napi_env env, napi_value exports);
napi_value recv_chunked_init(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  export_function(env, exports, "sendfile", start);
  durable_write_init(env, exports);
  hash_write_init(env, exports);
  recv_into_init(env, exports);
  return recv_chunked_init(env, exports);
}
