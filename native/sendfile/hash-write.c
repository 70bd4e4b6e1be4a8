/*
 * A content digest (SHA-256 or SHA-512, OpenSSL's EVP from Node.js's own binary) that the thread
 * pool can feed while it writes an upload's staging buffers to the disk, so that the main thread
 * no longer hashes every byte it receives.
 *
 * Why: a 1 GiB upload kept the main thread busy for 1.7-2.1 s of CPU, 0.63-1.0 s of it SHA-256,
 * on a machine with two cores; the other core has room while the O_DIRECT writes wait for the disk.
 *
 * Order: a digest must see the bytes in order, but the pool runs jobs on several threads at
 * once. Each hashWrite job takes a sequence number when it is queued (on the main thread) and
 * hashes only when every job queued before it on the same digest has hashed (a condition
 * variable). This cannot deadlock: libuv's pool takes jobs first in, first out, so an earlier
 * job is running or done whenever a later one runs, and a running job waits only for earlier ones.
 * The write follows the hash and runs outside the lock, so one job writes while the next hashes.
 *
 * hashUpdate and hashDigest (main thread) refuse while jobs are queued: the caller waits for its
 * writes first. A failed update marks the digest failed; hashDigest then throws.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "napi-util.h"

typedef struct {
  EVP_MD_CTX *md;
  pthread_mutex_t mu;
  pthread_cond_t turn;
  uint64_t queued; /* main thread only: sequence numbers handed to jobs */
  uint64_t hashed; /* under mu: jobs whose hashing is over */
  int failed;      /* under mu */
  int finished;    /* main thread only: the digest was taken */
} digest_t;

typedef struct {
  digest_t *digest; /* NULL: write only */
  uint64_t seq;
  int fd; /* a duplicate, closed in complete; -1: hash only */
  const uint8_t *data;
  size_t hash_from; /* bytes [hash_from, length) are hashed; all of [0, length) are written */
  size_t length;
  int64_t position;
  int error;
  napi_ref refs[2]; /* the buffer and the digest's external */
  napi_ref callback;
  napi_async_work work;
} job_t;

static void free_digest(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  digest_t *d = data;
  EVP_MD_CTX_free(d->md);
  pthread_mutex_destroy(&d->mu);
  pthread_cond_destroy(&d->turn);
  free(d);
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* The digest_t behind a JS value made by hashCreate, or NULL. */
static digest_t *digest_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

/* hashCreate('sha256' | 'sha512'): a running digest. */
static napi_value hash_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[16] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return throw_error(env, "hashCreate(algorithm): bad arguments");
  const EVP_MD *type = strcmp(name, "sha256") == 0 ? EVP_sha256() : strcmp(name, "sha512") == 0 ? EVP_sha512() : NULL;
  if (!type) return throw_error(env, "hashCreate: the algorithm must be sha256 or sha512");
  digest_t *d = calloc(1, sizeof *d);
  if (!d) return throw_error(env, "out of memory");
  d->md = EVP_MD_CTX_new();
  if (!d->md || EVP_DigestInit_ex(d->md, type, NULL) != 1) {
    EVP_MD_CTX_free(d->md);
    free(d);
    return throw_error(env, "hashCreate: OpenSSL could not start the digest");
  }
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->turn, NULL);
  napi_value out;
  if (napi_create_external(env, d, free_digest, NULL, &out) != napi_ok) {
    free_digest(env, d, NULL);
    return throw_error(env, "hashCreate: cannot create the object");
  }
  return out;
}

/*
 * The digest in `v` if the main thread may update or finish it now; otherwise throws (`usage`
 * when `v` is no digest) and returns NULL.
 */
static digest_t *digest_for_main_thread(napi_env env, napi_value v, const char *usage) {
  digest_t *d = v ? digest_arg(env, v) : NULL;
  if (!d) {
    throw_error(env, usage);
    return NULL;
  }
  const char *refusal = NULL;
  if (d->finished) {
    refusal = "the digest was already taken";
  } else {
    pthread_mutex_lock(&d->mu);
    if (d->hashed != d->queued) refusal = "hash jobs are still running";
    else if (d->failed) refusal = "an earlier update failed";
    pthread_mutex_unlock(&d->mu);
  }
  if (refusal) {
    throw_error(env, refusal);
    return NULL;
  }
  return d;
}

/* hashUpdate(digest, buffer): hashes the buffer now, on the calling thread. */
static napi_value hash_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "hashUpdate(digest, buffer): bad arguments";
  bool isBuffer = false;
  if (argc < 2 || napi_is_buffer(env, argv[1], &isBuffer) != napi_ok || !isBuffer) return throw_error(env, usage);
  digest_t *d = digest_for_main_thread(env, argv[0], usage);
  if (!d) return NULL;
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  if (len > 0 && EVP_DigestUpdate(d->md, data, len) != 1) {
    d->failed = 1;
    return throw_error(env, "hashUpdate: OpenSSL failed");
  }
  return NULL;
}

/* hashDigest(digest): the lower-case hex digest; the digest cannot be used after it. */
static napi_value hash_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  digest_t *d = digest_for_main_thread(env, argv[0], "hashDigest(digest): bad arguments");
  if (!d) return NULL;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  d->finished = 1;
  if (EVP_DigestFinal_ex(d->md, out, &n) != 1) return throw_error(env, "hashDigest: OpenSSL failed");
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned int i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", out[i]);
  napi_value s;
  napi_create_string_utf8(env, hex, 2 * n, &s);
  return s;
}

static void hash_in_turn(job_t *job) {
  digest_t *d = job->digest;
  pthread_mutex_lock(&d->mu);
  while (d->hashed != job->seq) pthread_cond_wait(&d->turn, &d->mu);
  int failed = d->failed;
  pthread_mutex_unlock(&d->mu);
  /* Only this job can be at its turn, so the context is updated outside the lock. */
  int ok = failed || job->length == job->hash_from || EVP_DigestUpdate(d->md, job->data + job->hash_from, job->length - job->hash_from) == 1;
  pthread_mutex_lock(&d->mu);
  if (!ok) d->failed = 1;
  d->hashed++;
  pthread_cond_broadcast(&d->turn);
  pthread_mutex_unlock(&d->mu);
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  if (job->digest) hash_in_turn(job);
  size_t done = 0;
  while (job->fd >= 0 && done < job->length) {
    ssize_t n = pwrite(job->fd, job->data + done, job->length - done, job->position + (int64_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      job->error = n < 0 ? errno : EIO;
      return;
    }
    done += (size_t)n;
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  if (job->fd >= 0) close(job->fd);
  napi_value err;
  if (status != napi_ok || job->error != 0) {
    const char *name = status != napi_ok ? "ECANCELED" : uv_err_name(-job->error);
    char text[256];
    snprintf(text, sizeof text, "%s: %s, write at offset %lld", name, status != napi_ok ? "cancelled" : strerror(job->error), (long long)job->position);
    err = coded_error(env, name, text);
  } else {
    napi_get_null(env, &err);
  }
  call_back_and_finish(env, job->callback, job->work, 1, &err);
  for (int i = 0; i < 2; i++)
    if (job->refs[i]) napi_delete_reference(env, job->refs[i]);
  free(job);
}

/*
 * hashWrite(digest | null, fd, buffer, hashFrom, position, callback(err)): on the thread pool,
 * hashes buffer[hashFrom..] into the digest in queue order, then writes the whole buffer at
 * `position` (pwrite, repeated until all is written); fd -1: hashes only. The caller keeps the
 * buffer unchanged until the callback, and queues no main-thread update or digest on `digest`
 * meanwhile.
 */
static napi_value hash_write(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "hashWrite(digest, fd, buffer, hashFrom, position, callback): bad arguments";
  if (argc < 6) return throw_error(env, usage);
  napi_valuetype t0, t5;
  napi_typeof(env, argv[0], &t0);
  napi_typeof(env, argv[5], &t5);
  digest_t *d = t0 == napi_null ? NULL : digest_arg(env, argv[0]);
  bool isBuffer = false;
  napi_is_buffer(env, argv[2], &isBuffer);
  int32_t fd = -1;
  int64_t from = -1, position = -1;
  void *base = NULL;
  size_t len = 0;
  if (isBuffer) napi_get_buffer_info(env, argv[2], &base, &len);
  if ((t0 != napi_null && !d) || !isBuffer || t5 != napi_function || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < -1 || (fd == -1 && !d) ||
      napi_get_value_int64(env, argv[3], &from) != napi_ok || from < 0 || (uint64_t)from > len || napi_get_value_int64(env, argv[4], &position) != napi_ok || position < 0)
    return throw_error(env, usage);
  if (d && d->finished) return throw_error(env, "hashWrite: the digest was already taken");
  job_t *job = calloc(1, sizeof *job);
  if (!job) return throw_error(env, "out of memory");
  job->fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (fd >= 0 && job->fd < 0) {
    free(job);
    return throw_error(env, "hashWrite: cannot duplicate the file descriptor");
  }
  job->digest = d;
  job->data = base;
  job->length = len;
  job->hash_from = (size_t)from;
  job->position = position;
  if (d) job->seq = d->queued++;
  napi_create_reference(env, argv[2], 1, &job->refs[0]);
  if (d) napi_create_reference(env, argv[0], 1, &job->refs[1]);
  napi_create_reference(env, argv[5], 1, &job->callback);
  napi_value name;
  napi_create_string_utf8(env, "berth-hash-write", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

napi_value hash_write_init(napi_env env, napi_value exports) {
  export_function(env, exports, "hashCreate", hash_create);
  export_function(env, exports, "hashUpdate", hash_update);
  export_function(env, exports, "hashDigest", hash_digest);
  export_function(env, exports, "hashWrite", hash_write);
  return exports;
}
