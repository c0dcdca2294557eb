/*
 * Hands the heap's free pages back to the kernel. Output is read in buffers of
 * up to 64 KiB that glibc carves from its heap and reuses; once a flood is
 * over, the freed ones are scattered between live allocations, so the heap
 * cannot shrink from its top and the daemon keeps its peak size. malloc_trim
 * releases every whole free page wherever it lies (MADV_DONTNEED), in every
 * arena, without the cost of mapping each buffer on its own
 * (mmap_threshold), which made every read fault its pages in and every free
 * shoot down TLBs.
 */
#include "trl_native.h"

#include <malloc.h>

napi_value trl_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) == 1, &released);
  return released;
}
