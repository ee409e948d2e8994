/*===- generate.c - greedy generation through the lowbit C API ---*- C -*-===*\
|*                                                                            *|
|* Part of the lowbit project.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * usage: lowbit-c-example MODEL.lowbit PROMPT N
 *
 * A minimal C99 application of the runtime: opens a bundle, tokenizes the
 * prompt, prefills it, then samples greedily and decodes N tokens, printing
 * the text as it streams. Build against the installed library with
 *   cc -std=c99 generate.c -llowbit_rt
 */
#include "lowbitrt/lowbit_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(lowbit_rt_status status, const char *what) {
  if (status == LOWBIT_RT_OK)
    return 0;
  fprintf(stderr, "lowbit-c-example: %s failed (%s): %s\n", what,
          lowbit_rt_status_name(status), lowbit_rt_last_error());
  return 1;
}

int main(int argc, char **argv) {
  lowbit_rt_model *model = NULL;
  lowbit_rt_session *session = NULL;
  lowbit_rt_model_info info;
  int32_t *ids = NULL;
  int64_t n = 0, steps;
  int32_t prev, token;
  char piece[256];
  size_t len;
  int rc = 1;
  if (argc != 4) {
    fprintf(stderr, "usage: lowbit-c-example MODEL.lowbit PROMPT N\n");
    return 2;
  }
  steps = atoll(argv[3]);
  if (check(lowbit_rt_model_open(argv[1], &model), "lowbit_rt_model_open") ||
      check(lowbit_rt_model_get_info(model, &info), "lowbit_rt_model_get_info"))
    goto done;
  /* First ask for the count, then tokenize into a buffer of that size. */
  lowbit_rt_tokenize(model, argv[2], strlen(argv[2]), 1, NULL, 0, &n);
  ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  if (check(lowbit_rt_tokenize(model, argv[2], strlen(argv[2]), 1, ids, n, &n),
            "lowbit_rt_tokenize") ||
      check(lowbit_rt_session_create(model, NULL, &session),
            "lowbit_rt_session_create") ||
      check(lowbit_rt_prefill(session, ids, n, NULL), "lowbit_rt_prefill"))
    goto done;
  printf("[%s, isa %s, %lld prompt tokens]\n", info.target, info.isa,
         (long long)n);
  prev = ids[n - 1];
  for (int64_t i = 0; i < steps; ++i) {
    if (check(lowbit_rt_sample(session, NULL, &token), "lowbit_rt_sample"))
      goto done;
    if (token == info.eos_token_id)
      break;
    if (check(lowbit_rt_token_piece(model, prev, token, piece, sizeof(piece),
                                    &len),
              "lowbit_rt_token_piece"))
      goto done;
    fwrite(piece, 1, len, stdout);
    prev = token;
    if (check(lowbit_rt_decode(session, token), "lowbit_rt_decode"))
      goto done;
  }
  printf("\n[position %lld]\n", (long long)lowbit_rt_session_position(session));
  rc = 0;
done:
  free(ids);
  lowbit_rt_session_free(session);
  lowbit_rt_model_free(model);
  return rc;
}
