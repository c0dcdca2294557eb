/*
 * A command's output read on the event loop without a net.Socket: one
 * uv_poll per fd, what each readiness has read into one buffer and handed
 * to JavaScript as a Buffer of exactly that. A net.Socket per stream
 * (a handle, a Duplex with both stream states, its teardown) cost more than
 * the rest of a short command's stream work; what the daemon needs of these
 * fds is only bytes, the end, pause and resume.
 *
 *   readFd(fd, cb(chunk|null, errno)) → handle   takes ownership of fd; not read until readStart
 *   readStart(handle) / readStop(handle)
 *   readClose(handle)                            stops and closes fd; no callback after
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* At most this much per chunk: two of libuv's suggested reads. */
#define READ_BYTES (128 * 1024)

/* Freed once both are gone: the poll handle (closed) and JavaScript's
 * handle on it (collected), so no call through a stale handle touches freed
 * memory; a call after close does nothing. */
struct fd_reader {
  uv_poll_t poll;
  int fd;
  int reading;
  int closed;
  int handle_closed;
  int external_gone;
  struct trl_loop_callback callback;
};

static char read_buffer[READ_BYTES]; /* the event loop's thread only */

static void on_closed(uv_handle_t *handle) {
  struct fd_reader *r = handle->data;
  close(r->fd);
  r->handle_closed = 1;
  if (r->external_gone) free(r);
}

static void on_collected(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct fd_reader *r = data;
  r->external_gone = 1;
  if (r->handle_closed) free(r);
  else if (!r->closed) {
    /* Dropped without a close: nothing can call back into JavaScript any more. */
    r->closed = 1;
    uv_poll_stop(&r->poll);
    uv_close((uv_handle_t *)&r->poll, on_closed);
  }
}

/* Drops JavaScript's side; the handle goes on the loop's next close phase. */
static void reader_close(struct fd_reader *r) {
  if (r->closed) return;
  r->closed = 1;
  r->reading = 0;
  uv_poll_stop(&r->poll);
  trl_loop_callback_release(&r->callback);
  uv_close((uv_handle_t *)&r->poll, on_closed);
}

static void deliver(struct fd_reader *r, ssize_t n, int err) {
  napi_env env = r->callback.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[2];
  if (n > 0) {
    void *data;
    napi_create_buffer_copy(env, (size_t)n, read_buffer, &data, &argv[0]);
  } else {
    napi_get_null(env, &argv[0]);
  }
  napi_create_int32(env, err, &argv[1]);
  trl_loop_callback_call(&r->callback, 2, argv);
  napi_close_handle_scope(env, scope);
}

/* What one readiness has: read until the buffer is full or the fd has no
 * more for now, handed over as one chunk, then the end if it came. Fewer,
 * larger chunks while output floods (each chunk costs the daemon a callback
 * and, when streamed, an event); one read and one chunk for a short output. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct fd_reader *r = poll->data;
  size_t used = 0;
  int end = 0, err = 0;
  if (status < 0) {
    end = 1;
    err = -status;
  }
  while (!end && used < sizeof read_buffer) {
    ssize_t n = read(r->fd, read_buffer + used, sizeof read_buffer - used);
    if (n > 0) used += (size_t)n;
    else if (n == 0) end = 1;
    else if (errno == EINTR) continue;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    else end = 1, err = errno;
  }
  /* The end or an error: nothing more comes; JavaScript closes it. */
  if (end) {
    r->reading = 0;
    uv_poll_stop(&r->poll);
  }
  if (used > 0) deliver(r, (ssize_t)used, 0);
  if (end && !r->closed) deliver(r, 0, err);
}

static struct fd_reader *reader_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  void *r = NULL;
  if (argc < 1 || napi_get_value_external(env, arg, &r) != napi_ok || !r) {
    napi_throw_type_error(env, NULL, "expected a reader from readFd");
    return NULL;
  }
  return r;
}

napi_value trl_read_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t fd;
  napi_valuetype type;
  if (argc < 2 || napi_get_value_int32(env, args[0], &fd) != napi_ok || fd < 0 || napi_typeof(env, args[1], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, NULL, "readFd(fd, callback)");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return trl_throw_errno(env, errno, "fcntl(O_NONBLOCK)");
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  struct fd_reader *r = calloc(1, sizeof *r);
  if (!r) return trl_throw_errno(env, ENOMEM, "readFd");
  r->fd = fd;
  r->poll.data = r;
  int err = uv_poll_init(loop, &r->poll, fd);
  if (err != 0) {
    free(r);
    return trl_throw_errno(env, -err, "uv_poll_init");
  }
  trl_loop_callback_init(env, &r->callback, args[1], "trl.read");
  napi_value handle;
  napi_create_external(env, r, on_collected, NULL, &handle);
  return handle;
}

napi_value trl_read_start(napi_env env, napi_callback_info info) {
  struct fd_reader *r = reader_arg(env, info);
  if (!r || r->closed || r->reading) return NULL;
  int err = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (err != 0) return trl_throw_errno(env, -err, "uv_poll_start");
  r->reading = 1;
  return NULL;
}

napi_value trl_read_stop(napi_env env, napi_callback_info info) {
  struct fd_reader *r = reader_arg(env, info);
  if (!r || r->closed || !r->reading) return NULL;
  r->reading = 0;
  uv_poll_stop(&r->poll);
  return NULL;
}

napi_value trl_read_close(napi_env env, napi_callback_info info) {
  struct fd_reader *r = reader_arg(env, info);
  if (r) reader_close(r);
  return NULL;
}
