/*
 * How far a run of bytes that a JSON string carries as they are goes: the
 * scan at the heart of the daemon's JSON string encoder
 * (src/protocol/json-escape.ts, runEnd). In JavaScript it is a quarter of the
 * daemon's CPU while output streams (every byte of every event is looked at);
 * here it looks at 64 bytes per step with SSE2 (every x86-64 has it), eight
 * elsewhere.
 *
 *   jsonRunEnd(buffer, from, to, valid) → the index of the first byte in
 *   [from, to) that ends the run: < 0x20, '"' or '\\', and when `valid` is
 *   false (the text is not known to be valid UTF-8) any byte ≥ 0x80; `to`
 *   when there is none.
 */
#include "trl_native.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline bool stops(uint8_t b, bool valid) {
  return b < 0x20 || b == '"' || b == '\\' || (!valid && b >= 0x80);
}

/* Nonzero when a byte of x may stop the run: a byte < 0x20, equal to '"' or
 * '\\', or (high) with its top bit set. A borrow can mark a byte above a real
 * one, never hide the lowest: a marked word is looked at byte by byte. */
static inline uint64_t may_stop(uint64_t x, uint64_t high) {
  const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
  uint64_t q = x ^ (ones * '"'), s = x ^ (ones * '\\');
  return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s) | (x & high)) & tops;
}

#if defined(__SSE2__)
/* One bit per byte of x that stops the run: '"', '\\', <= 0x1f (the unsigned
 * max with 0x1f is 0x1f), and when not `valid` a set top bit. */
static inline uint64_t stops16(__m128i x, bool valid) {
  const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), below = _mm_set1_epi8(0x1f);
  __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)), _mm_cmpeq_epi8(_mm_max_epu8(x, below), below));
  return (uint64_t)(unsigned)_mm_movemask_epi8(valid ? m : _mm_or_si128(m, x));
}

/* The first stop in whole 64- then 16-byte blocks from i; where none, the end of those blocks. */
static size_t run_end_blocks(const uint8_t *p, size_t i, size_t to, bool valid) {
  for (; i + 64 <= to; i += 64) {
    const __m128i *q = (const __m128i *)(p + i);
    uint64_t m = stops16(_mm_loadu_si128(q), valid) | stops16(_mm_loadu_si128(q + 1), valid) << 16 |
                 stops16(_mm_loadu_si128(q + 2), valid) << 32 | stops16(_mm_loadu_si128(q + 3), valid) << 48;
    if (m) return i + (size_t)__builtin_ctzll(m);
  }
  for (; i + 16 <= to; i += 16) {
    uint64_t m = stops16(_mm_loadu_si128((const __m128i *)(p + i)), valid);
    if (m) return i + (size_t)__builtin_ctzll(m);
  }
  return i;
}
#endif

static size_t run_end(const uint8_t *p, size_t i, size_t to, bool valid) {
#if defined(__SSE2__)
  i = run_end_blocks(p, i, to, valid); /* at a stop, or under 16 bytes before `to`: the rest goes on from there */
#endif
  const uint64_t high = valid ? 0 : 0x8080808080808080ULL;
  while (i < to) {
    if (i + 8 <= to) {
      uint64_t x;
      memcpy(&x, p + i, 8);
      if (!may_stop(x, high)) {
        i += 8;
        continue;
      }
    }
    size_t stop = i + 8 < to ? i + 8 : to;
    for (; i < stop; i++)
      if (stops(p[i], valid)) return i;
  }
  return to;
}

napi_value trl_json_run_end(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  void *data;
  size_t len;
  uint32_t from, to;
  bool is_buffer = false, valid = false;
  if (argc < 4 || napi_is_buffer(env, args[0], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, args[0], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, args[1], &from) != napi_ok || napi_get_value_uint32(env, args[2], &to) != napi_ok ||
      napi_get_value_bool(env, args[3], &valid) != napi_ok || from > to || to > len) {
    napi_throw_type_error(env, NULL, "jsonRunEnd(buffer, from, to, valid) with from <= to <= buffer.length");
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, (uint32_t)run_end(data, from, to, valid), &result);
  return result;
}
