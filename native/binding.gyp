{
  "targets": [
    {
      "target_name": "trl_native",
      "sources": ["addon.c", "args.c", "harden.c", "spawn.c", "clone3.c", "child.c", "exit_watch.c", "exec_report.c", "fd_read.c", "json_scan.c", "loop_callback.c", "pty.c", "adopt.c", "memory.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fno-strict-aliasing"],
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,now"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"]
    }
  ]
}
