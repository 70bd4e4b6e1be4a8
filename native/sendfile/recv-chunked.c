/*
 * An upload's body sent with `Transfer-Encoding: chunked` (how podman, buildah and docker send a
 * layer they compress on the way), decoded from its socket on the thread pool straight into the
 * caller's buffer: the companion of recv-into.c for bodies without a Content-Length
 * (src/http/chunked-reads.ts).
 *
 * The chunk framing (size line, optional extensions, CRLF after the data) is parsed one byte at a
 * time by a state machine whose state lives in a small Buffer the caller keeps between calls, so a
 * call may stop anywhere, even inside a size line. The data bytes are never looked at: they are
 * read from the socket straight into the destination. The framing is first peeked (MSG_PEEK) and
 * then only the bytes the machine accepted are consumed, so nothing past the body is ever taken
 * from the socket: after the last chunk's size line ("0\r\n") the trailer section and whatever the
 * client sent next stay there for Node.js's HTTP parser.
 *
 * The machine is as strict as Node.js's own parser (llhttp without its lenient flags): hex digits,
 * then optional extensions (no control bytes but tab, at most EXT_MAX bytes), then CRLF; CRLF
 * after each chunk's data. Anything else fails with EPROTO.
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
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "napi-util.h"
#include "socket-read.h"

#define EXT_MAX 16384 /* Node.js answers 413 past 16 KiB of chunk extensions too */
#define PEEK 64
#define STATE_BYTES 16

enum phase {
  SIZE_FIRST = 0, /* a chunk-size line starts: a hex digit must come (zeroed state: the body's start) */
  SIZE,           /* in the hex digits */
  EXT,            /* in the extensions, after ';' */
  SIZE_LF,        /* CR seen at the end of the size line */
  DATA,           /* `left` data bytes to go */
  DATA_CR,        /* the CR after a chunk's data */
  DATA_LF,        /* the LF after it */
  DONE            /* the last chunk's size line ("0\r\n") was consumed: the body's data is complete */
};

typedef struct {
  uint64_t left;
  uint32_t phase;
  uint32_t ext; /* extension bytes in the current size line */
} chunk_state_t;

static int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Feeds one framing byte to the machine (never called in DATA or DONE); NULL, or why it is malformed. */
static const char *step(chunk_state_t *s, uint8_t c) {
  int v;
  switch (s->phase) {
    case SIZE_FIRST:
      if ((v = hex_value(c)) < 0) return "a chunk size was expected";
      s->left = (uint64_t)v;
      s->ext = 0;
      s->phase = SIZE;
      return NULL;
    case SIZE:
      if ((v = hex_value(c)) >= 0) {
        if (s->left > (UINT64_MAX >> 4)) return "the chunk size is too large";
        s->left = (s->left << 4) | (uint64_t)v;
      } else if (c == ';') {
        s->phase = EXT;
      } else if (c == '\r') {
        s->phase = SIZE_LF;
      } else {
        return "bad byte in a chunk size";
      }
      return NULL;
    case EXT:
      if (c == '\r') {
        s->phase = SIZE_LF;
        return NULL;
      }
      if ((c < 0x20 && c != '\t') || c == 0x7f) return "bad byte in a chunk extension";
      if (++s->ext > EXT_MAX) return "the chunk extensions are too long";
      return NULL;
    case SIZE_LF:
      if (c != '\n') return "a chunk size line must end with CRLF";
      s->phase = s->left == 0 ? DONE : DATA;
      return NULL;
    case DATA_CR:
      if (c != '\r') return "a chunk's data must be followed by CRLF";
      s->phase = DATA_LF;
      return NULL;
    case DATA_LF:
      if (c != '\n') return "a chunk's data must be followed by CRLF";
      s->phase = SIZE_FIRST;
      return NULL;
    default:
      return "internal: no framing expected here";
  }
}

/* Feeds framing bytes from src[0..n) until the machine reaches DATA or DONE; returns the bytes used. */
static size_t frame(chunk_state_t *s, const uint8_t *src, size_t n, const char **why) {
  size_t i = 0;
  while (i < n && s->phase != DATA && s->phase != DONE) {
    if ((*why = step(s, src[i])) != NULL) return i;
    i++;
  }
  return i;
}

/* The caller's state Buffer (at least STATE_BYTES): where it is, for copying the state in and out (no alignment is assumed). */
static int state_buffer(napi_env env, napi_value v, void **base) {
  bool isBuffer = false;
  size_t size = 0;
  if (napi_is_buffer(env, v, &isBuffer) != napi_ok || !isBuffer) return 0;
  napi_get_buffer_info(env, v, base, &size);
  return size >= STATE_BYTES && sizeof(chunk_state_t) <= STATE_BYTES;
}


static napi_value malformed(napi_env env, const char *why) {
  char text[160];
  snprintf(text, sizeof text, "EPROTO: malformed chunked body: %s", why);
  return coded_error(env, "EPROTO", text);
}

/*
 * chunkedTake(state, src, dst, dstOffset, dstLength) -> [used, written, done]: runs the machine over
 * the bytes of `src` (bytes the HTTP parser's read held past the headers), copying chunk data into
 * dst[dstOffset..]; stops when data comes and dst's range is full, src is used up, or the last
 * chunk's size line was consumed (done 1). Throws an EPROTO error on malformed framing.
 */
static napi_value chunked_take(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *stateBase = NULL;
  uint8_t *src = NULL, *dst = NULL;
  size_t n = 0, cap = 0;
  bool isBuffer = false;
  if (argc == 5) napi_is_buffer(env, argv[1], &isBuffer);
  if (!isBuffer || !state_buffer(env, argv[0], &stateBase) || !buffer_range(env, argv[2], argv[3], argv[4], &dst, &cap)) {
    napi_throw_error(env, NULL, "chunkedTake(state, src, dst, dstOffset, dstLength): bad arguments");
    return NULL;
  }
  napi_get_buffer_info(env, argv[1], (void **)&src, &n);
  chunk_state_t st;
  memcpy(&st, stateBase, sizeof st);
  chunk_state_t *s = &st;
  size_t used = 0, written = 0;
  /* Framing is consumed even when dst is full: the last chunk's size line after the last data byte
     is then seen in the same call. */
  while (used < n && s->phase != DONE) {
    if (s->phase == DATA) {
      if (written == cap) break;
      size_t k = n - used;
      if (k > cap - written) k = cap - written;
      if (k > s->left) k = (size_t)s->left;
      memcpy(dst + written, src + used, k);
      used += k;
      written += k;
      if ((s->left -= k) == 0) s->phase = DATA_CR;
      continue;
    }
    const char *why = NULL;
    used += frame(s, src + used, n - used, &why);
    if (why) {
      memcpy(stateBase, &st, sizeof st);
      napi_throw(env, malformed(env, why));
      return NULL;
    }
  }
  memcpy(stateBase, &st, sizeof st);
  napi_value result, v;
  napi_create_array_with_length(env, 3, &result);
  napi_create_double(env, (double)used, &v);
  napi_set_element(env, result, 0, v);
  napi_create_double(env, (double)written, &v);
  napi_set_element(env, result, 1, v);
  napi_create_uint32(env, s->phase == DONE, &v);
  napi_set_element(env, result, 2, v);
  return result;
}

typedef struct {
  int fd; /* a duplicate, closed in complete */
  chunk_state_t state; /* copied from the caller's Buffer when queued, back when complete */
  void *stateBase;
  uint8_t *data;
  size_t length;
  size_t got;
  int stalled; /* nothing arrived for WAIT_MS */
  int error;
  const char *why; /* malformed framing (error EPROTO) */
  napi_ref stateRef;
  napi_ref buffer;
  napi_ref callback;
  napi_async_work work;
} job_t;

/* Consumes exactly `k` bytes that a peek showed are waiting in the socket. */
static int consume(job_t *job, size_t k) {
  uint8_t sink[PEEK];
  while (k > 0) {
    ssize_t n = recv(job->fd, sink, k, 0);
    if (n > 0) {
      k -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      job->error = n == 0 ? ECONNRESET : errno;
      return -1;
    }
  }
  return 0;
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  chunk_state_t *s = &job->state;
  while (s->phase != DONE) {
    ssize_t n;
    if (s->phase == DATA) {
      if (job->got == job->length) return;
      size_t want = job->length - job->got;
      if (want > s->left) want = (size_t)s->left;
      n = read(job->fd, job->data + job->got, want);
      if (n > 0) {
        job->got += (size_t)n;
        if ((s->left -= (uint64_t)n) == 0) s->phase = DATA_CR;
        continue;
      }
    } else {
      uint8_t peek[PEEK];
      n = recv(job->fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) {
        size_t used = frame(s, peek, (size_t)n, &job->why);
        if (job->why) {
          job->error = EPROTO;
          return;
        }
        if (consume(job, used) < 0) return;
        continue;
      }
    }
    /* Full: the framing that follows is not waited for. */
    if (!read_again(n, job->fd, job->got, job->got == job->length, &job->error, &job->stalled)) return;
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  close(job->fd);
  napi_value argv[3];
  argv[0] = job->why ? malformed(env, job->why) : socket_read_error(env, status, job->error, job->stalled);
  memcpy(job->stateBase, &job->state, sizeof job->state);
  napi_create_double(env, (double)job->got, &argv[1]);
  napi_create_uint32(env, job->state.phase == DONE, &argv[2]);
  napi_delete_reference(env, job->stateRef);
  napi_delete_reference(env, job->buffer);
  call_back_and_finish(env, job->callback, job->work, 3, argv);
  free(job);
}

/*
 * recvChunkedInto(socketFd, state, buffer, offset, length, callback(err, n, done)): on the thread
 * pool, decodes the chunked body from the socket, writing up to `length` data bytes into
 * buffer[offset..]. done 1: the last chunk's size line was consumed (the trailer section is left
 * in the socket); err null, done 0 and n < length: the peer closed its side; err.code EAGAIN:
 * nothing arrived for a few milliseconds, ask again; EPROTO: malformed framing. The caller keeps
 * the state and the buffer until the callback and reads the socket no other way meanwhile.
 */
static napi_value recv_chunked_into(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t5 = napi_undefined;
  if (argc == 6) napi_typeof(env, argv[5], &t5);
  int32_t fd = -1;
  void *stateBase = NULL;
  uint8_t *dst = NULL;
  size_t cap = 0;
  if (t5 != napi_function || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || !state_buffer(env, argv[1], &stateBase) || !buffer_range(env, argv[2], argv[3], argv[4], &dst, &cap)) {
    napi_throw_error(env, NULL, "recvChunkedInto(socketFd, state, buffer, offset, length, callback): bad arguments");
    return NULL;
  }
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if ((job->fd = dup_socket(env, fd, "recvChunkedInto")) < 0) {
    free(job);
    return NULL;
  }
  memcpy(&job->state, stateBase, sizeof job->state);
  job->stateBase = stateBase;
  job->data = dst;
  job->length = cap;
  napi_create_reference(env, argv[1], 1, &job->stateRef);
  napi_create_reference(env, argv[2], 1, &job->buffer);
  napi_create_reference(env, argv[5], 1, &job->callback);
  napi_value name;
  napi_create_string_utf8(env, "berth-recv-chunked", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

napi_value recv_chunked_init(napi_env env, napi_value exports) {
  export_function(env, exports, "chunkedTake", chunked_take);
  export_function(env, exports, "recvChunkedInto", recv_chunked_into);
  return exports;
}
