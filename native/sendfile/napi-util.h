/* Small N-API helpers shared by the addon's files. */
#ifndef BERTH_NAPI_UTIL_H
#define BERTH_NAPI_UTIL_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* exports[name] = a JS function that calls `cb`. */
static inline void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

/* An Error whose `code` is `code` (an errno name such as "EIO"), as Node.js's fs reports failures. */
static inline napi_value coded_error(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  return err;
}

/*
 * A job's completion: calls the JS function behind `callback` with argv, then deletes that
 * reference and the job's async work. The caller frees its other references and the job after it.
 */
static inline void call_back_and_finish(napi_env env, napi_ref callback, napi_async_work work, size_t argc, napi_value *argv) {
  napi_value cb, global;
  napi_get_reference_value(env, callback, &cb);
  napi_get_global(env, &global);
  napi_call_function(env, global, cb, argc, argv, NULL);
  napi_delete_reference(env, callback);
  napi_delete_async_work(env, work);
}

/* The bytes [offset, offset + length) of a Buffer argument: 0 when it is not a Buffer, the range is
   empty, or it does not lie within the Buffer. */
static inline int buffer_range(napi_env env, napi_value buf, napi_value off, napi_value len, uint8_t **data, size_t *length) {
  bool isBuffer = false;
  void *base = NULL;
  size_t size = 0;
  int64_t offset = -1, n = -1;
  if (napi_is_buffer(env, buf, &isBuffer) != napi_ok || !isBuffer) return 0;
  napi_get_buffer_info(env, buf, &base, &size);
  if (napi_get_value_int64(env, off, &offset) != napi_ok || napi_get_value_int64(env, len, &n) != napi_ok) return 0;
  if (offset < 0 || n <= 0 || (uint64_t)offset > size || (uint64_t)n > size - (uint64_t)offset) return 0;
  *data = (uint8_t *)base + offset;
  *length = (size_t)n;
  return 1;
}
#endif
