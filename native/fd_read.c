/*
 * A command's output read on the event loop without a net.Socket: one
 * uv_poll per fd, what each readiness has read into one buffer and handed
 * to JavaScript as a Buffer of exactly that. A net.Socket per stream
 * (a handle, a Duplex with both stream states, its teardown) cost more than
 * the rest of a short command's stream work; what the daemon needs of these
 * fds is only bytes, the end, pause and resume.
 *
 *   readFd(fd, cb(chunk|null, errno, intoBytes)) → handle   takes ownership of fd; not read until readStart
 *   readStart(handle) / readStop(handle)
 *   readInto(handle, buffer)                     reads go into buffer (see below) until it is handed back;
 *                                                the first grows a pipe and lets it nap (below)
 *   readClose(handle)                            stops and closes fd; no callback after
 *
 * A read is copied into a new Buffer of exactly its size, unless JavaScript
 * gave a buffer of its own with readInto: then the fd is read into it, and a
 * read that fills at least a quarter of it is handed over as that buffer
 * itself (intoBytes says how much of it is the chunk; the reader holds no
 * buffer until it is given another). While output floods, a buffer per read
 * made V8 collect its whole heap many times a second (each new buffer counts
 * as memory it must look after); buffers given back and given again count
 * once. A smaller read is copied out and the buffer kept for the next.
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* At most this much per chunk: two of libuv's suggested reads. */
#define READ_BYTES (128 * 1024)

/* Freed once both are gone: its handles (closed) and JavaScript's handle
 * on it (collected), so no call through a stale handle touches freed
 * memory; a call after close does nothing. */
struct fd_reader {
  uv_poll_t poll;
  /* A flooding reader's pause once it has read its fd empty (below). */
  uv_timer_t nap;
  int fd;
  int reading;
  int napping;
  int closed;
  int open_handles; /* the poll, and the nap's timer once a flood made it */
  int handle_closed;
  int external_gone;
  int flooding; /* readInto was called: grow the pipe, nap when empty */
  int grown;
  struct trl_loop_callback callback;
  /* readInto's buffer, held (a strong reference) while it may be read into. */
  napi_ref into_ref;
  char *into;
  size_t into_len;
};

static char read_buffer[READ_BYTES]; /* the event loop's thread only */

/* A command's output pipe that floods grows from 64 KiB to 1 MiB (at its
 * first readInto): the command then writes up to 1 MiB before it waits for
 * the daemon, not 64 KiB, and each wait and wake-up is one per 1 MiB instead
 * of one per 64 KiB. A pipe's size counts against its user's pipe pages
 * (fs.pipe-user-pages-soft, 64 MiB by default; past it every new pipe of
 * that user gets two pages), so at most GROWN_PIPES_MAX pipes are grown at
 * a time; the others keep 64 KiB. Where the kernel refuses (a lower
 * fs.pipe-max-size, not a pipe), the pipe keeps its size. */
#define GROWN_PIPE_BYTES (1024 * 1024)
#define GROWN_PIPES_MAX 8
static int grown_pipes; /* the event loop's thread only */

/* What all readers together read in one turn of the event loop; a reader
 * whose fd is ready when it is spent waits for the next turn (libuv's epoll
 * is level-triggered: the fd is reported again, after those ready before
 * it). While commands flood, the daemon always has output to read; without
 * a bound, one turn read every flooding fd before the loop looked at its
 * clients again. */
#define TURN_BYTES READ_BYTES
static size_t turn_left;
static uv_prepare_t turn_reset;
static uv_loop_t *turn_loop;

static void on_turn(uv_prepare_t *handle) {
  (void)handle;
  turn_left = TURN_BYTES;
}

/* The bound starts anew before each wait for I/O. It is kept for the first
 * loop that reads (the daemon's only one); another loop's readers read
 * without it. */
static void turn_start(uv_loop_t *loop) {
  if (turn_loop != NULL) return;
  turn_loop = loop;
  turn_left = TURN_BYTES;
  uv_prepare_init(loop, &turn_reset);
  uv_prepare_start(&turn_reset, on_turn);
  uv_unref((uv_handle_t *)&turn_reset);
}

static void on_closed(uv_handle_t *handle) {
  struct fd_reader *r = handle->data;
  if (handle == (uv_handle_t *)&r->poll) {
    close(r->fd);
    if (r->grown) grown_pipes--;
  }
  if (--r->open_handles > 0) return;
  r->handle_closed = 1;
  if (r->external_gone) free(r);
}

/* uv_close stops a poll and a timer itself: a stop first is one more system call. */
static void close_handles(struct fd_reader *r) {
  uv_close((uv_handle_t *)&r->poll, on_closed);
  if (r->flooding) uv_close((uv_handle_t *)&r->nap, on_closed);
}

static void drop_into(struct fd_reader *r, napi_env env) {
  if (!r->into_ref) return;
  napi_delete_reference(env, r->into_ref);
  r->into_ref = NULL;
  r->into = NULL;
  r->into_len = 0;
}

static void on_collected(napi_env env, void *data, void *hint) {
  (void)hint;
  struct fd_reader *r = data;
  r->external_gone = 1;
  drop_into(r, env);
  if (r->handle_closed) free(r);
  else if (!r->closed) {
    /* Dropped without a close: nothing can call back into JavaScript any more. */
    r->closed = 1;
    close_handles(r);
  }
}

/* Drops JavaScript's side; the handle goes on the loop's next close phase. */
static void reader_close(struct fd_reader *r) {
  if (r->closed) return;
  r->closed = 1;
  r->reading = 0;
  drop_into(r, r->callback.env);
  trl_loop_callback_release(&r->callback);
  close_handles(r);
}

/* n bytes at buf (the static buffer or readInto's); n 0: the end, or err. */
static void deliver(struct fd_reader *r, const char *buf, size_t n, int err) {
  napi_env env = r->callback.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[3];
  uint32_t into_bytes = 0;
  if (n > 0 && buf == r->into && n >= r->into_len / 4) {
    napi_get_reference_value(env, r->into_ref, &argv[0]);
    drop_into(r, env);
    into_bytes = (uint32_t)n;
  } else if (n > 0) {
    void *data;
    napi_create_buffer_copy(env, n, buf, &data, &argv[0]);
  } else {
    napi_get_null(env, &argv[0]);
  }
  napi_create_int32(env, err, &argv[1]);
  napi_create_uint32(env, into_bytes, &argv[2]);
  trl_loop_callback_call(&r->callback, 3, argv);
  napi_close_handle_scope(env, scope);
}

/* A flooding command may write a few KiB at a time (tr: 4 KiB), and each
 * write into an empty pipe woke the daemon for a read of what was there: 64
 * KiB on average, each read a callback, an event, a write to every follower.
 * A reader whose pipe grew (so it floods) and that has read it empty waits
 * NAP_MS before it polls again, while the pipe fills: full reads, half the
 * events and wake-ups. Output of a flood arrives up to NAP_MS later. Not for
 * a pipe of 64 KiB or a terminal: NAP_MS would cap what they carry. */
#define NAP_MS 1

static void on_readable(uv_poll_t *poll, int status, int events);

static void on_nap_end(uv_timer_t *timer) {
  struct fd_reader *r = timer->data;
  r->napping = 0;
  if (!r->closed && r->reading) uv_poll_start(&r->poll, UV_READABLE, on_readable);
}

static void nap(struct fd_reader *r) {
  uv_poll_stop(&r->poll);
  r->napping = 1;
  uv_timer_start(&r->nap, on_nap_end, NAP_MS, 0);
}

/* What one readiness has: read until the buffer is full or the fd has no
 * more for now, handed over as one chunk, then the end if it came. Fewer,
 * larger chunks while output floods (each chunk costs the daemon a callback
 * and, when streamed, an event); one read and one chunk for a short output. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct fd_reader *r = poll->data;
  char *buf = r->into ? r->into : read_buffer;
  size_t size = r->into ? r->into_len : sizeof read_buffer;
  size_t used = 0;
  int end = 0, err = 0;
  int bounded = poll->loop == turn_loop;
  if (status < 0) {
    end = 1;
    err = -status;
  } else if (bounded && turn_left == 0) {
    return;
  } else if (bounded && size > turn_left) {
    size = turn_left;
  }
  while (!end && used < size) {
    ssize_t n = read(r->fd, buf + used, size - used);
    if (n > 0) used += (size_t)n;
    else if (n == 0) end = 1;
    else if (errno == EINTR) continue;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    else end = 1, err = errno;
  }
  if (bounded) turn_left -= used; /* used <= size <= turn_left */
  /* The end or an error: nothing more comes; JavaScript closes it. */
  if (end) {
    r->reading = 0;
    uv_poll_stop(&r->poll);
  } else if (r->grown && used < size) {
    nap(r);
  }
  if (used > 0) deliver(r, buf, used, 0);
  if (end && !r->closed) deliver(r, NULL, 0, err);
}

/* The reader behind a readFd handle, or NULL with a TypeError pending. */
static struct fd_reader *reader_of(napi_env env, napi_value handle) {
  void *r = NULL;
  if (napi_get_value_external(env, handle, &r) != napi_ok || !r) {
    napi_throw_type_error(env, NULL, "expected a reader from readFd");
    return NULL;
  }
  return r;
}

/* The reader a call's first argument is. */
static struct fd_reader *reader_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "expected a reader from readFd");
    return NULL;
  }
  return reader_of(env, arg);
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
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  struct fd_reader *r = calloc(1, sizeof *r);
  if (!r) return trl_throw_errno(env, ENOMEM, "readFd");
  r->fd = fd;
  r->poll.data = r;
  r->open_handles = 1;
  turn_start(loop);
  /* uv_poll_init makes the fd non-blocking (ioctl FIONBIO), as the reads need. */
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
  if (r->napping) {
    r->napping = 0;
    uv_timer_stop(&r->nap);
  } else {
    uv_poll_stop(&r->poll);
  }
  return NULL;
}

napi_value trl_read_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  void *data;
  size_t len;
  bool is_buffer = false;
  if (argc < 2 || napi_is_buffer(env, args[1], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, args[1], &data, &len) != napi_ok ||
      len == 0 || len > UINT32_MAX) {
    napi_throw_type_error(env, NULL, "readInto(reader, buffer)");
    return NULL;
  }
  struct fd_reader *r = reader_of(env, args[0]);
  if (!r || r->closed) return NULL;
  if (!r->flooding) {
    r->flooding = 1;
    uv_timer_init(r->poll.loop, &r->nap);
    r->nap.data = r;
    r->open_handles++;
    if (grown_pipes < GROWN_PIPES_MAX && fcntl(r->fd, F_SETPIPE_SZ, GROWN_PIPE_BYTES) >= 0) {
      r->grown = 1;
      grown_pipes++;
    }
  }
  drop_into(r, env);
  napi_create_reference(env, args[1], 1, &r->into_ref);
  r->into = data;
  r->into_len = len;
  return NULL;
}

napi_value trl_read_close(napi_env env, napi_callback_info info) {
  struct fd_reader *r = reader_arg(env, info);
  if (r) reader_close(r);
  return NULL;
}
