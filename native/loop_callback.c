/*
 * A JavaScript function the addon calls from the event loop (a uv_poll's
 * callback), with the async context Node wants for it: the exit watch, the
 * exec report and the fd reader each hold one.
 */
#include "trl_native.h"

void trl_loop_callback_init(napi_env env, struct trl_loop_callback *cb, napi_value fn, const char *name) {
  cb->env = env;
  napi_create_reference(env, fn, 1, &cb->fn);
  napi_value resource_name;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &cb->context);
}

/* Inside a handle scope the caller opened (argv's values live in it). */
void trl_loop_callback_call(struct trl_loop_callback *cb, size_t argc, napi_value *argv) {
  napi_value global, fn, ignored;
  napi_get_global(cb->env, &global); /* make_callback needs an object as receiver */
  napi_get_reference_value(cb->env, cb->fn, &fn);
  napi_make_callback(cb->env, cb->context, global, fn, argc, argv, &ignored);
}

void trl_loop_callback_release(struct trl_loop_callback *cb) {
  napi_delete_reference(cb->env, cb->fn);
  napi_async_destroy(cb->env, cb->context);
}
