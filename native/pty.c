/*
 * Terminals: a pseudo-terminal made by the parent for one command. The
 * master stays with the daemon (the command's input and its one output
 * stream); the slave becomes the child's stdin, stdout, stderr and
 * controlling terminal (child.c), and the parent's copy is closed once the
 * child has it, so the master reads EIO when the last holder of the slave is
 * gone: the end of the terminal's output.
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Same bounds the protocol checks; a second line of defence for direct callers. */
#define TRL_PTY_MAX_SIDE 10000

int trl_read_pty(napi_env env, napi_value pty, struct trl_spawn_job *job) {
  napi_valuetype type;
  napi_typeof(env, pty, &type);
  job->pty = 0;
  job->pty_slave = -1;
  if (type == napi_null || type == napi_undefined) return 0;
  napi_value v;
  uint32_t cols, rows;
  if (napi_get_named_property(env, pty, "cols", &v) != napi_ok || napi_get_value_uint32(env, v, &cols) != napi_ok ||
      napi_get_named_property(env, pty, "rows", &v) != napi_ok || napi_get_value_uint32(env, v, &rows) != napi_ok ||
      cols < 1 || rows < 1 || cols > TRL_PTY_MAX_SIDE || rows > TRL_PTY_MAX_SIDE) {
    napi_throw_type_error(env, NULL, "pty: {cols, rows}, each 1..10000");
    return -1;
  }
  job->pty = 1;
  job->pty_cols = (unsigned short)cols;
  job->pty_rows = (unsigned short)rows;
  return 0;
}

/*
 * The master and the slave, both close-on-exec and neither becoming the
 * daemon's controlling terminal; fd 3 stays a pipe for the state report.
 * On failure every fd made here is closed and errno says why.
 */
int trl_pty_open(struct trl_spawn_job *job) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -1;
  char name[128];
  struct winsize ws = {.ws_row = job->pty_rows, .ws_col = job->pty_cols};
  int slave = -1;
  if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0 ||
      ioctl(master, TIOCSWINSZ, &ws) < 0 || (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
    int err = errno;
    close(master);
    errno = err;
    return -1;
  }
  int state[2];
  if (pipe2(state, O_CLOEXEC) < 0) {
    int err = errno;
    close(master);
    close(slave);
    errno = err;
    return -1;
  }
  job->parent_fd[0] = master;
  job->pty_slave = slave;
  job->parent_fd[3] = state[0];
  job->child_fd[3] = state[1];
  return 0;
}

/* resizePty(masterFd, cols, rows): the kernel sends SIGWINCH to the terminal's foreground group. */
napi_value trl_pty_resize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t fd;
  uint32_t cols, rows;
  if (argc < 3 || napi_get_value_int32(env, args[0], &fd) != napi_ok || napi_get_value_uint32(env, args[1], &cols) != napi_ok ||
      napi_get_value_uint32(env, args[2], &rows) != napi_ok || fd < 0 || cols < 1 || rows < 1 || cols > TRL_PTY_MAX_SIDE ||
      rows > TRL_PTY_MAX_SIDE) {
    napi_throw_type_error(env, NULL, "resizePty(fd, cols, rows): cols and rows 1..10000");
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return trl_throw_errno(env, errno, "ioctl(TIOCSWINSZ)");
  return NULL;
}
