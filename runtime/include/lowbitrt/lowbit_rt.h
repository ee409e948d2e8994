/*===- lowbit_rt.h - C API of the lowbit runtime ------------------*- C -*-===*\
|*                                                                            *|
|* Part of the lowbit project.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * Runs a compiled `.lowbit` bundle: a model (the bundle, its validated
 * dispatch program, tokenizer and kernel library) and sessions on it (KV
 * caches, activation buffers, sampling state). The manifest and program are
 * specified in docs/bundle-manifest.md. C99; no LLVM.
 *
 * Errors: every fallible function returns a lowbit_rt_status; on failure
 * lowbit_rt_last_error() returns a message of the calling thread naming the
 * file, tensor, op or argument at fault. Output arguments are left untouched
 * on failure unless documented.
 *
 * Threads: a model is immutable after lowbit_rt_model_open() and may be
 * shared by several sessions and threads; it must outlive its sessions. A
 * session must be used by one thread at a time.
 *
 * Allocation: every buffer of a session (activations for max_batch rows, KV
 * caches, logits, sampling and attention scratch) is allocated by
 * lowbit_rt_session_create(); lowbit_rt_sample() does not allocate. With
 * max_context set, the KV caches hold max_context positions from the start
 * and lowbit_rt_decode() does not allocate either. With max_context 0 the
 * caches start at max(max_batch, 16) positions and double (copying the
 * filled rows) when a step needs more, up to max_position_embeddings, so a
 * model whose config allows millions of positions costs what its context
 * uses; only the steps that cross a power-of-two boundary allocate. Every KV
 * cache allocation is checked against the memory available (MemAvailable)
 * first: LOWBIT_RT_INVALID_ARGUMENT from lowbit_rt_session_create() for a
 * max_context that does not fit, LOWBIT_RT_INTERNAL ("out of memory") from
 * the step that cannot grow the caches.
 */

#ifndef LOWBITRT_LOWBIT_RT_H
#define LOWBITRT_LOWBIT_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lowbit_rt_status {
  LOWBIT_RT_OK = 0,
  /** A bad argument (null pointer, out-of-range token id, small buffer). */
  LOWBIT_RT_INVALID_ARGUMENT = 1,
  /** The file cannot be read. */
  LOWBIT_RT_IO = 2,
  /** A malformed bundle, manifest or program. */
  LOWBIT_RT_FORMAT = 3,
  /** Valid but not supported here (code format, CPU without the ISA). */
  LOWBIT_RT_UNSUPPORTED = 4,
  /** The tokens do not fit in the session's context. */
  LOWBIT_RT_CONTEXT_FULL = 5,
  /** Anything else (out of memory, a failing kernel). */
  LOWBIT_RT_INTERNAL = 6,
  /** Trusted keys are set and the bundle's native code is unsigned, signed
   *  by another key, or does not match its signature. */
  LOWBIT_RT_UNTRUSTED = 7
} lowbit_rt_status;

/** The message of the last failure on this thread ("" if none). */
const char *lowbit_rt_last_error(void);

/** The name of a status ("ok", "invalid argument", ...). */
const char *lowbit_rt_status_name(lowbit_rt_status status);

typedef struct lowbit_rt_model lowbit_rt_model;
typedef struct lowbit_rt_session lowbit_rt_session;

/*===----------------------------------------------------------------------===*
 * Models
 *===----------------------------------------------------------------------===*/

/**
 * Opens the bundle at `path`, parses and validates its manifest and dispatch
 * program, loads the tokenizer (if the manifest has one) and the code blob of
 * the manifest's target, resolves every kernel symbol and picks the best
 * kernel ISA this CPU runs. LOWBIT_RT_IO when the file cannot be opened,
 * LOWBIT_RT_FORMAT for a malformed bundle or manifest, LOWBIT_RT_UNSUPPORTED
 * for an unknown code format or kernels this CPU cannot run.
 */
lowbit_rt_status lowbit_rt_model_open(const char *path, lowbit_rt_model **out);

typedef struct lowbit_rt_model_options {
  /** The device that runs the program: a driver name of
   *  lowbit_rt_available_devices() ("x86", "cpu", ...); NULL or "" = the
   *  manifest's target. Ops the device does not support run on "cpu", with
   *  copies planned at load (docs/runtime-hal.md). */
  const char *device;
  /** Nonzero: never load the bundle's native code; every op runs on the
   *  portable "cpu" device (a `device` other than "cpu" is then
   *  LOWBIT_RT_INVALID_ARGUMENT). Also turned on by the environment variable
   *  LOWBIT_NO_NATIVE_CODE=1. The safe way to run a bundle from someone you
   *  do not trust (slower: the cpu device dequantizes the weights). */
  int32_t no_native_code;
  /** Trusted Ed25519 public keys: PEM file paths separated by ':'. When set
   *  (non-null and non-empty; else the environment variable
   *  LOWBIT_TRUSTED_KEYS), a bundle's native code is loaded only if its
   *  signature (lowbit-compile --sign) verifies against one of them;
   *  otherwise opening fails with LOWBIT_RT_UNTRUSTED (no_native_code still
   *  runs such a bundle without its code). See "Bundles from others" in
   *  docs/reliability.md. */
  const char *trusted_keys;
} lowbit_rt_model_options;

/**
 * lowbit_rt_model_open() with options (`opts` may be null: the defaults;
 * zero-initialize the struct, fields may be added at its end).
 * LOWBIT_RT_INVALID_ARGUMENT, naming the available devices, for a device
 * this runtime has no driver for.
 */
lowbit_rt_status lowbit_rt_model_open_ex(const char *path,
                                         const lowbit_rt_model_options *opts,
                                         lowbit_rt_model **out);

/** The devices of this runtime, comma-separated ("x86, cpu"); `cpu` is
 *  always there. Static storage. */
const char *lowbit_rt_available_devices(void);

/** Frees a model (null is ignored). Its sessions must be freed first. */
void lowbit_rt_model_free(lowbit_rt_model *model);

typedef struct lowbit_rt_model_info {
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t num_layers;
  int64_t max_position_embeddings;
  /** From the config, else from the tokenizer; -1 if none. */
  int32_t bos_token_id;
  int32_t eos_token_id;
  /** The kernel ISA chosen for this CPU ("avx2", "avx512vnni", ...; distinct
   *  choices of different matmuls joined by '+'; "none" without quantized
   *  matmuls). Owned by the model. */
  const char *isa;
  /** The manifest's target ("x86"). Owned by the model. */
  const char *target;
} lowbit_rt_model_info;

lowbit_rt_status lowbit_rt_model_get_info(const lowbit_rt_model *model,
                                          lowbit_rt_model_info *info);

/* The device a model runs on (a separate struct, so lowbit_rt_model_info
 * keeps its layout). Strings are owned by the model. */
typedef struct lowbit_rt_device_info {
  /** The primary device ("x86", "cpu"). */
  const char *device;
  /** What it chose, as lowbit_rt_model_info.isa. */
  const char *description;
  /** The device of ops the primary does not support ("cpu"), or "". */
  const char *fallback_device;
  /** Ops that run on the fallback device. */
  int32_t fallback_ops;
  /** Buffer copies between devices per step (besides uploading the tokens
   *  and positions and reading back the logits). */
  int32_t copies_per_step;
} lowbit_rt_device_info;

lowbit_rt_status lowbit_rt_model_get_device(const lowbit_rt_model *model,
                                            lowbit_rt_device_info *info);

/*===----------------------------------------------------------------------===*
 * Sessions
 *===----------------------------------------------------------------------===*/

typedef struct lowbit_rt_session_options {
  /** Threads of the session's pool, the caller included; 0 = one per
   *  hardware thread. */
  int32_t threads;
  /** Context positions (the KV cache, allocated at once); 0 = up to the
   *  model's max_position_embeddings, with caches that grow on demand. */
  int64_t max_context;
  /** Rows per prefill step (the size of every activation buffer);
   *  0 = 64. */
  int64_t max_batch;
} lowbit_rt_session_options;

/** Creates a session; `opts` may be null (all defaults). */
lowbit_rt_status lowbit_rt_session_create(const lowbit_rt_model *model,
                                          const lowbit_rt_session_options *opts,
                                          lowbit_rt_session **out);

/** Frees a session (null is ignored). */
void lowbit_rt_session_free(lowbit_rt_session *session);

/** Forgets the context: the position returns to 0 and the next sample
 *  reseeds the random generator. */
lowbit_rt_status lowbit_rt_reset(lowbit_rt_session *session);

/** The number of tokens in the context (-1 for a null session). */
int64_t lowbit_rt_session_position(const lowbit_rt_session *session);

/**
 * Keeps the first `n` tokens of the context and forgets the rest
 * (0 <= n <= the position, else LOWBIT_RT_INVALID_ARGUMENT): the next
 * prefill or decode continues at position `n`, reusing the KV cache of the
 * kept tokens (a chat turn re-prefills only what differs from the previous
 * turn). The logits are unavailable until the next step; the random
 * generator is kept.
 */
lowbit_rt_status lowbit_rt_session_truncate(lowbit_rt_session *session,
                                            int64_t n);

/**
 * Appends `n` tokens to the context, in steps of at most max_batch rows.
 * Afterwards lowbit_rt_logits() holds the logits of the last token; with
 * `all_logits` non-null, the logits of every token are written to it
 * (n * vocab_size floats). Without it, the ops after the last attention of
 * each step (the last layer's MLP, the final norm, the output projection)
 * run on the step's last token only, as a decode step would: its logits
 * can then differ from the same row of an `all_logits` prefill in the last
 * bits (the kernels of one row and of many sum in different orders). LOWBIT_RT_CONTEXT_FULL, changing nothing, if the
 * position plus `n` exceeds max_context; LOWBIT_RT_INVALID_ARGUMENT for a
 * token id outside the vocabulary (nothing is processed).
 */
lowbit_rt_status lowbit_rt_prefill(lowbit_rt_session *session,
                                   const int32_t *tokens, int64_t n,
                                   float *all_logits);

/** Appends one token (a step of one row); updates the logits. */
lowbit_rt_status lowbit_rt_decode(lowbit_rt_session *session, int32_t token);

/** The logits of the last processed token (vocab_size floats), valid until
 *  the next prefill, decode or reset; null before the first step. */
const float *lowbit_rt_logits(const lowbit_rt_session *session);

typedef struct lowbit_rt_sampling {
  /** <= 0: greedy (argmax). */
  float temperature;
  /** Keep the k most likely tokens; <= 0 disables. */
  int64_t top_k;
  /** Nucleus threshold; >= 1 disables. */
  float top_p;
  /** Seeds the session's generator at the first sample after
   *  lowbit_rt_session_create() or lowbit_rt_reset(); later calls continue
   *  that stream and ignore it. */
  uint64_t seed;
} lowbit_rt_sampling;

/** Draws a token from the current logits (temperature, then top-k, then
 *  top-p); `params` null means greedy. Fails before the first step. */
lowbit_rt_status lowbit_rt_sample(lowbit_rt_session *session,
                                  const lowbit_rt_sampling *params,
                                  int32_t *token);

/*===----------------------------------------------------------------------===*
 * Tokenizer (fails with LOWBIT_RT_UNSUPPORTED when the bundle has none)
 *===----------------------------------------------------------------------===*/

/**
 * Encodes `len` bytes of `text`, with the model's BOS prefix if `add_bos`.
 * Writes the ids to `ids` and their count to `*n_out`. If `capacity` is too
 * small, returns LOWBIT_RT_INVALID_ARGUMENT with `*n_out` set to the count
 * needed (`ids` may then be null).
 */
lowbit_rt_status lowbit_rt_tokenize(const lowbit_rt_model *model,
                                    const char *text, size_t len, int add_bos,
                                    int32_t *ids, int64_t capacity,
                                    int64_t *n_out);

/**
 * Decodes `n` ids to UTF-8 text (special tokens skipped), written to `buf`
 * with a terminating NUL when it fits; `*len_out` gets the length without
 * the NUL. If `cap` is below length + 1, returns LOWBIT_RT_INVALID_ARGUMENT
 * with `*len_out` set to the length.
 */
lowbit_rt_status lowbit_rt_detokenize(const lowbit_rt_model *model,
                                      const int32_t *ids, int64_t n, char *buf,
                                      size_t cap, size_t *len_out);

/**
 * Streaming decode: the bytes token `id` adds after token `prev` (< 0 at the
 * start). The bytes may be an incomplete UTF-8 sequence. Same buffer
 * convention as lowbit_rt_detokenize().
 */
lowbit_rt_status lowbit_rt_token_piece(const lowbit_rt_model *model,
                                       int32_t prev, int32_t id, char *buf,
                                       size_t cap, size_t *len_out);

/**
 * The end-of-sequence ids: the config's `eos_token_id` (one or a list), then
 * the tokenizer config's `eos_token` (without a tokenizer config, the
 * tokenizer's EOS only when the config names none). Same buffer convention
 * as lowbit_rt_tokenize().
 */
lowbit_rt_status lowbit_rt_model_eos_ids(const lowbit_rt_model *model,
                                         int32_t *ids, int64_t capacity,
                                         int64_t *n_out);

/*===----------------------------------------------------------------------===*
 * Chat (docs/chat.md)
 *===----------------------------------------------------------------------===*/

/** A chat template bound to a model (which must outlive it). Immutable. */
typedef struct lowbit_rt_chat lowbit_rt_chat;

typedef struct lowbit_rt_chat_message {
  /** "system", "user", "assistant", ... (NUL-terminated UTF-8). */
  const char *role;
  /** The text of the turn (NUL-terminated UTF-8). */
  const char *content;
} lowbit_rt_chat_message;

/**
 * Binds a chat template. `template_name` NULL or "" uses the model's
 * `chat_template` (the manifest's tokenizer_config), recognised by family;
 * "chatml", "llama2", "llama3" or "none" force that family. BOS/EOS texts
 * come from the tokenizer config, else from the tokenizer.
 * LOWBIT_RT_INVALID_ARGUMENT for an unknown name; LOWBIT_RT_UNSUPPORTED
 * (naming the known families) when the bundle has no tokenizer, no chat
 * template, an unrecognised one, or a tokenizer without the family's
 * end-of-turn token.
 */
lowbit_rt_status lowbit_rt_chat_create(const lowbit_rt_model *model,
                                       const char *template_name,
                                       lowbit_rt_chat **out);

/** Frees a chat (null is ignored). */
void lowbit_rt_chat_free(lowbit_rt_chat *chat);

/** The family ("chatml", "llama2", "llama3", "none"); static storage. */
lowbit_rt_status lowbit_rt_chat_get_family(const lowbit_rt_chat *chat,
                                           const char **family);

/**
 * Renders `n` messages (and, if `add_generation_prompt`, the opening of the
 * assistant's reply) to the template's text, as the model's Jinja template
 * does. Same buffer convention as lowbit_rt_detokenize();
 * LOWBIT_RT_INVALID_ARGUMENT also for a conversation the template rejects
 * (llama2: turns not alternating user/assistant).
 */
lowbit_rt_status lowbit_rt_chat_render(const lowbit_rt_chat *chat,
                                       const lowbit_rt_chat_message *messages,
                                       int64_t n, int add_generation_prompt,
                                       char *buf, size_t cap, size_t *len_out);

/**
 * lowbit_rt_chat_render() then tokenization, as `apply_chat_template`
 * tokenizes (special tokens in the text become their ids; no BOS prefix is
 * added except for the "none" family, which gets the tokenizer's usual one).
 * Same buffer convention as lowbit_rt_tokenize().
 */
lowbit_rt_status lowbit_rt_chat_tokenize(const lowbit_rt_chat *chat,
                                         const lowbit_rt_chat_message *messages,
                                         int64_t n, int add_generation_prompt,
                                         int32_t *ids, int64_t capacity,
                                         int64_t *n_out);

typedef enum lowbit_rt_stop_kind {
  /** Not a stop token. */
  LOWBIT_RT_STOP_NONE = 0,
  /** One of lowbit_rt_model_eos_ids(). */
  LOWBIT_RT_STOP_EOS = 1,
  /** The template's end of turn (<|im_end|>, <|eot_id|>) when not an EOS. */
  LOWBIT_RT_STOP_END_OF_TURN = 2
} lowbit_rt_stop_kind;

/** Whether generating `token` ends the assistant's turn, and why. */
lowbit_rt_status lowbit_rt_chat_stop(const lowbit_rt_chat *chat, int32_t token,
                                     lowbit_rt_stop_kind *kind);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LOWBITRT_LOWBIT_RT_H */
