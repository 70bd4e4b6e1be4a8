/*
 * One thread-pool job for what a small blob upload does to the disk: create the file, write
 * it, fdatasync, close (writeFile); and rename it into place, then fsync the directory
 * (renameAndSyncDir). Node.js's fs runs each of those as its own job: the main thread wakes a
 * pool thread and is woken back six times per blob, and on these VMs each hop costs more
 * main-thread time than the call itself.
 *
 * Buffers are read on the pool thread: the caller keeps them alive (a reference is held until
 * the callback) and does not change them meanwhile (as with fs.writev). The directory
 * descriptor is dup(2)ed on the calling thread, as in sendfile.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>
#include "napi-util.h"

typedef struct {
  char *path;
  char *target; /* renameAndSyncDir only */
  int dir;      /* renameAndSyncDir only: a duplicate of the directory's descriptor */
  struct iovec *iov;
  size_t iovcnt;
  int error; /* errno */
  const char *syscall;
  napi_ref buffers;
  napi_ref callback;
  napi_async_work work;
} job_t;

static void write_execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  int fd = open(job->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    job->error = errno;
    job->syscall = "open";
    return;
  }
  struct iovec *iov = job->iov;
  size_t left = job->iovcnt;
  while (left > 0) {
    ssize_t n = writev(fd, iov, left > IOV_MAX ? IOV_MAX : (int)left);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      job->syscall = "write";
      close(fd);
      return;
    }
    /* Skip what was written (a short write leaves the rest of a buffer for the next call). */
    while (left > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      left--;
    }
    if (left > 0) {
      iov->iov_base = (char *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
  if (fdatasync(fd) != 0) {
    job->error = errno;
    job->syscall = "fdatasync";
    close(fd);
    return;
  }
  if (close(fd) != 0) {
    job->error = errno;
    job->syscall = "close";
  }
}

static void rename_execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  if (rename(job->path, job->target) != 0) {
    job->error = errno;
    job->syscall = "rename";
    return;
  }
  if (fsync(job->dir) != 0) {
    job->error = errno;
    job->syscall = "fsync";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  if (job->dir >= 0) close(job->dir);
  napi_value err;
  if (status != napi_ok || job->error != 0) {
    const char *name = status != napi_ok ? "ECANCELED" : uv_err_name(-job->error);
    char text[512];
    snprintf(text, sizeof text, "%s: %s, %s '%s'", name, status != napi_ok ? "cancelled" : strerror(job->error), job->syscall ? job->syscall : "", job->path);
    err = coded_error(env, name, text);
  } else {
    napi_get_null(env, &err);
  }
  call_back_and_finish(env, job->callback, job->work, 1, &err);
  if (job->buffers) napi_delete_reference(env, job->buffers);
  free(job->iov);
  free(job->path);
  free(job->target);
  free(job);
}

static job_t *new_job(void) {
  job_t *job = calloc(1, sizeof *job);
  if (job) job->dir = -1;
  return job;
}

/* A copy of a JS string argument, or NULL (not a string, empty, or longer than PATH_MAX). */
static char *string_arg(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0 || len > PATH_MAX) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value queue(napi_env env, job_t *job, napi_value callback, napi_async_execute_callback execute) {
  napi_value name;
  napi_create_string_utf8(env, "berth-durable-write", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, callback, 1, &job->callback);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

static napi_value fail(napi_env env, job_t *job, const char *message) {
  if (job) {
    if (job->dir >= 0) close(job->dir);
    free(job->iov);
    free(job->path);
    free(job->target);
    free(job);
  }
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* writeFile(path, buffers, callback(err)): creates or truncates `path`, writes the buffers, fdatasyncs, closes. */
static napi_value write_file(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "writeFile(path, buffers, callback): bad arguments";
  napi_valuetype cbType = napi_undefined;
  bool isArray = false;
  if (argc >= 3) {
    napi_typeof(env, argv[2], &cbType);
    napi_is_array(env, argv[1], &isArray);
  }
  if (argc < 3 || cbType != napi_function || !isArray) return fail(env, NULL, usage);
  job_t *job = new_job();
  if (!job) return fail(env, NULL, "out of memory");
  uint32_t count;
  napi_get_array_length(env, argv[1], &count);
  job->path = string_arg(env, argv[0]);
  job->iov = calloc(count > 0 ? count : 1, sizeof *job->iov);
  if (!job->path || !job->iov) return fail(env, job, usage);
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    bool isBuffer = false;
    napi_get_element(env, argv[1], i, &b);
    napi_is_buffer(env, b, &isBuffer);
    if (!isBuffer) return fail(env, job, usage);
    void *base;
    size_t len;
    napi_get_buffer_info(env, b, &base, &len);
    job->iov[i].iov_base = base;
    job->iov[i].iov_len = len;
  }
  job->iovcnt = count;
  napi_create_reference(env, argv[1], 1, &job->buffers);
  return queue(env, job, argv[2], write_execute);
}

/* renameAndSyncDir(from, to, dirFd, callback(err)): rename(2), then fsync(2) of the directory `to` is in. */
static napi_value rename_and_sync_dir(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "renameAndSyncDir(from, to, dirFd, callback): bad arguments";
  napi_valuetype cbType = napi_undefined;
  int32_t dir = -1;
  if (argc >= 4) napi_typeof(env, argv[3], &cbType);
  if (argc < 4 || cbType != napi_function || napi_get_value_int32(env, argv[2], &dir) != napi_ok || dir < 0) return fail(env, NULL, usage);
  job_t *job = new_job();
  if (!job) return fail(env, NULL, "out of memory");
  job->path = string_arg(env, argv[0]);
  job->target = string_arg(env, argv[1]);
  if (!job->path || !job->target) return fail(env, job, usage);
  job->dir = fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (job->dir < 0) return fail(env, job, "renameAndSyncDir: cannot duplicate the directory's descriptor");
  return queue(env, job, argv[3], rename_execute);
}

static void free_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/*
 * alignedBuffer(size): a Buffer of `size` bytes (a multiple of 4096) whose memory starts on a
 * 4096-byte boundary, for O_DIRECT writes. Node.js's own Buffers give no alignment, and an
 * O_DIRECT write from one that is only 512-aligned was measured 30x slower on these VMs.
 */
static napi_value aligned_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t size = 0;
  if (argc < 1 || napi_get_value_int64(env, argv[0], &size) != napi_ok || size <= 0 || size % 4096 != 0 || size > (1 << 30)) return fail(env, NULL, "alignedBuffer(size): size must be a positive multiple of 4096, at most 1 GiB");
  void *mem = NULL;
  if (posix_memalign(&mem, 4096, (size_t)size) != 0) return fail(env, NULL, "out of memory");
  napi_value buf;
  if (napi_create_external_buffer(env, (size_t)size, mem, free_aligned, NULL, &buf) != napi_ok) {
    free(mem);
    return fail(env, NULL, "alignedBuffer: cannot create the Buffer");
  }
  return buf;
}

napi_value durable_write_init(napi_env env, napi_value exports) {
  export_function(env, exports, "alignedBuffer", aligned_buffer);
  export_function(env, exports, "writeFile", write_file);
  export_function(env, exports, "renameAndSyncDir", rename_and_sync_dir);
  return exports;
}
