/* Small N-API helpers shared by the addon's files. */
#ifndef BERTH_NAPI_UTIL_H
#define BERTH_NAPI_UTIL_H
#include <node_api.h>

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
#endif
