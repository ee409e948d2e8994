/*===- hal.h - the runtime's device interface (HAL) ---------------*- C -*-===*\
|*                                                                            *|
|* Part of the lowbit project.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The interface between the runtime's engine and a device driver (cpu, x86,
 * later CUDA, Vulkan, Metal), specified in docs/runtime-hal.md. C99, no
 * LLVM, no C++ exceptions across it: every fallible function returns a
 * lowbit_hal_status, NULL on success.
 *
 * A driver is one folder runtime/src/<name>/ that defines
 * LOWBIT_HAL_DEFINE_DRIVER(<name>, <create function>); the registry
 * (lowbit_hal_driver_count/get, lowbit_hal_device_create) lists every driver
 * named in LOWBITRT_DRIVERS, with `cpu` always built and registered last.
 *
 * Objects:
 *  - device: one instance of a driver (vtable + driver state);
 *  - buffer: device memory, allocated, or imported from host memory (the
 *    bundle's mmapped weights) without a copy where the device can read host
 *    memory, else copied once at import;
 *  - executable: a code blob of the bundle (format tag + bytes) loaded once;
 *  - kernel: one program op bound to its code (an entry of an executable or
 *    a built-in kernel of the driver) with the op's static parameters;
 *  - queue: an in-order stream of dispatches and copies, one per session
 *    (CPU drivers own the session's thread pool and scratch here);
 *  - fence: signalled on a queue after earlier work, waited on by the host.
 *
 * Versioning: a driver sets vtable->api_version = LOWBIT_HAL_API_VERSION of
 * the header it was compiled against; the registry refuses a device whose
 * version differs. Any change of a struct layout, a function signature or
 * the meaning of a binding bumps the version; appending a new op kind does
 * too (a driver answers supports_op = 0 for kinds it does not know).
 */

#ifndef LOWBITRT_HAL_H
#define LOWBITRT_HAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOWBIT_HAL_API_VERSION 1

/*===----------------------------------------------------------------------===*
 * Status
 *===----------------------------------------------------------------------===*/

typedef enum lowbit_hal_status_code {
  LOWBIT_HAL_OK = 0,
  LOWBIT_HAL_INVALID_ARGUMENT = 1,
  /** The bundle is malformed for this device (bad blob, bad op fields). */
  LOWBIT_HAL_FORMAT = 2,
  /** Valid but not runnable here (format tag, ISA, op). */
  LOWBIT_HAL_UNSUPPORTED = 3,
  LOWBIT_HAL_OUT_OF_MEMORY = 4,
  LOWBIT_HAL_INTERNAL = 5
} lowbit_hal_status_code;

/** NULL means success; otherwise an owned object with a code and message,
 *  released with lowbit_hal_status_free(). Creating one allocates, so a
 *  failure path may allocate; success paths never do. */
typedef struct lowbit_hal_status_s *lowbit_hal_status;

/** A failure with \p code and a copy of \p message (lowercase, naming the
 *  op, tensor or buffer at fault). Returns a static out-of-memory status if
 *  it cannot allocate. */
lowbit_hal_status lowbit_hal_make_status(lowbit_hal_status_code code,
                                         const char *message);
/** LOWBIT_HAL_OK for NULL. */
lowbit_hal_status_code lowbit_hal_status_code_of(lowbit_hal_status status);
/** "" for NULL. Valid until the status is freed. */
const char *lowbit_hal_status_message(lowbit_hal_status status);
void lowbit_hal_status_free(lowbit_hal_status status);

/*===----------------------------------------------------------------------===*
 * Op descriptors (what supports_op and kernel_create see)
 *===----------------------------------------------------------------------===*/

typedef enum lowbit_hal_op_kind {
  LOWBIT_HAL_OP_EMBEDDING = 0,
  LOWBIT_HAL_OP_RMS_NORM = 1,
  LOWBIT_HAL_OP_LINEAR = 2,
  LOWBIT_HAL_OP_QMATMUL = 3,
  LOWBIT_HAL_OP_ROTARY = 4,
  LOWBIT_HAL_OP_ATTENTION = 5,
  LOWBIT_HAL_OP_GATED_ACT = 6,
  LOWBIT_HAL_OP_ADD = 7,
  LOWBIT_HAL_OP_QEMBEDDING = 8,
  LOWBIT_HAL_OP_KIND_COUNT = 9
} lowbit_hal_op_kind;

/* lowbit_hal_op_desc.flags */
#define LOWBIT_HAL_OP_HAS_BIAS 0x1u            /* linear, qmatmul */
#define LOWBIT_HAL_OP_HAS_PERM 0x2u            /* qmatmul */
#define LOWBIT_HAL_OP_SYMMETRIC 0x4u           /* qmatmul, qembedding */
#define LOWBIT_HAL_OP_F16_SCALES 0x8u          /* qmatmul, qembedding */
#define LOWBIT_HAL_OP_ROTARY_INTERLEAVED 0x10u /* rotary (else rotate_half) */
#define LOWBIT_HAL_OP_GELU_TANH 0x20u          /* gated_act (else silu) */
#define LOWBIT_HAL_OP_MIN_ZERO 0x40u /* qembedding: float minimums as zeros */

/**
 * One validated program op (docs/bundle-manifest.md). Sizes:
 *  - embedding, qembedding: rows = V, cols = D;   rms_norm: cols = D, eps;
 *  - linear, qmatmul: rows = N, cols = K;
 *  - rotary: num_heads, head_dim, theta;
 *  - attention: num_heads, num_kv_heads, head_dim;
 *  - gated_act, add: cols.
 * qmatmul and qembedding also have bits, group_size (-1: one group per row)
 * and layout, the codec name of the packed weight
 * (runtime/include/lowbitrt/Codec.h).
 *
 * Bindings of lowbit_hal_dispatch, in this order (a NULL buffer for an
 * absent optional one; i32 for ids and positions, f32 otherwise):
 *  - embedding: table [V, D], ids [T], out [T, D]
 *  - qembedding: packed table (bytes), ids [T], out [T, D]
 *  - rms_norm:  x [T, D], weight [D], out [T, D]
 *  - linear:    x [T, K], weight [N, K], bias [N]?, out [T, N]
 *  - qmatmul:   x [T, K], packed weight (bytes), bias [N]?, perm [K]?,
 *               out [T, N]
 *  - rotary:    x [T, H*Dh], positions [T], out [T, H*Dh]
 *  - attention: q [T, H*Dh], k [T, Hkv*Dh], v [T, Hkv*Dh], positions [T],
 *               k cache [C, Hkv*Dh], v cache [C, Hkv*Dh], out [T, H*Dh]
 *  - gated_act: gate [T, n], up [T, n], out [T, n]
 *  - add:       a [T, n], b [T, n], out [T, n]
 */
typedef struct lowbit_hal_op_desc {
  lowbit_hal_op_kind kind;
  uint32_t flags;
  int64_t rows;
  int64_t cols;
  float eps;
  double theta;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int32_t bits;
  int64_t group_size;
  /** qmatmul, qembedding: the codec of the packed weight, e.g.
   *  "x86-tile16-v1". */
  const char *layout;
  /** qmatmul, qembedding: the byte size of the packed weight tensor. */
  uint64_t weight_bytes;
  /** qmatmul, qembedding: 0, or the groups per super-block of 8-bit scale
   *  codes (the codec's WeightDesc::superGroup). */
  int64_t super_group;
  /** The op's manifest object as JSON text (target-specific fields such as
   *  a kernel list) and its length; may be NULL. */
  const char *op_json;
  size_t op_json_size;
  /** Names the op in messages, e.g. "op 3 (qmatmul)". */
  const char *context;
} lowbit_hal_op_desc;

/** Number of bindings of \p kind (see above). */
int lowbit_hal_op_binding_count(lowbit_hal_op_kind kind);

/** Per-dispatch values (push constants of every built-in op). */
typedef struct lowbit_hal_push_constants {
  /** T, the rows of this step. */
  int64_t rows;
  /** attention: C, the rows of the bound caches. */
  int64_t cache_rows;
} lowbit_hal_push_constants;

/*===----------------------------------------------------------------------===*
 * Objects
 *===----------------------------------------------------------------------===*/

typedef struct lowbit_hal_device lowbit_hal_device;
typedef struct lowbit_hal_buffer lowbit_hal_buffer;
typedef struct lowbit_hal_executable lowbit_hal_executable;
typedef struct lowbit_hal_kernel lowbit_hal_kernel;
typedef struct lowbit_hal_queue lowbit_hal_queue;
typedef struct lowbit_hal_fence lowbit_hal_fence;

typedef struct lowbit_hal_binding {
  lowbit_hal_buffer *buffer; /* NULL: absent optional operand */
  uint64_t offset;           /* bytes */
  uint64_t length;           /* bytes */
} lowbit_hal_binding;

typedef struct lowbit_hal_queue_options {
  /** Threads of a CPU queue, the caller included; 0 = one per hardware
   *  thread. Devices without host threads ignore it. */
  int32_t threads;
} lowbit_hal_queue_options;

/* lowbit_hal_device_vtable.buffer_import_host flags */
#define LOWBIT_HAL_IMPORT_READ_ONLY 0x1u

/**
 * The driver's function table. Every function gets its device first, so a
 * wrapper device can forward or intercept any of them. Work on a queue runs
 * in submission order; "completes" means visible to later queue work, and to
 * the host after a fence signalled later on the queue has been waited on.
 */
typedef struct lowbit_hal_device_vtable {
  /** LOWBIT_HAL_API_VERSION of the driver's build. */
  uint32_t api_version;

  void (*destroy)(lowbit_hal_device *device);
  /** The registry name ("cpu", "x86"). */
  const char *(*name)(const lowbit_hal_device *device);
  /** What the device chose for the kernels created so far, e.g. "avx2" or
   *  "portable"; "none" before any. Owned by the device. */
  const char *(*description)(const lowbit_hal_device *device);

  /** Non-zero if kernel_create would accept \p op (ignoring the code blob
   *  and op_json). Must not fail or allocate visibly. */
  int (*supports_op)(const lowbit_hal_device *device,
                     const lowbit_hal_op_desc *op);

  /* Buffers */
  lowbit_hal_status (*buffer_allocate)(lowbit_hal_device *device,
                                       uint64_t bytes, lowbit_hal_buffer **out);
  /** Wraps \p bytes of host memory that outlives the buffer; copies it once
   *  when the device cannot read host memory. */
  lowbit_hal_status (*buffer_import_host)(lowbit_hal_device *device,
                                          const void *host, uint64_t bytes,
                                          uint32_t flags,
                                          lowbit_hal_buffer **out);
  void (*buffer_free)(lowbit_hal_device *device, lowbit_hal_buffer *buffer);
  /** The host address of a host-visible buffer, else NULL. */
  void *(*buffer_host_pointer)(lowbit_hal_device *device,
                               lowbit_hal_buffer *buffer);

  /* Executables and kernels */
  /** Loads a code blob; LOWBIT_HAL_UNSUPPORTED for an unknown format tag,
   *  LOWBIT_HAL_FORMAT for a blob that does not load. */
  lowbit_hal_status (*executable_load)(lowbit_hal_device *device,
                                       const char *format, const void *data,
                                       uint64_t size,
                                       lowbit_hal_executable **out);
  void (*executable_free)(lowbit_hal_device *device,
                          lowbit_hal_executable *executable);
  /** Binds \p op to its entry in \p executable (may be NULL: built-in
   *  kernels only), validating the target-specific fields in op_json. */
  lowbit_hal_status (*kernel_create)(lowbit_hal_device *device,
                                     lowbit_hal_executable *executable,
                                     const lowbit_hal_op_desc *op,
                                     lowbit_hal_kernel **out);
  void (*kernel_free)(lowbit_hal_device *device, lowbit_hal_kernel *kernel);

  /* Queues */
  lowbit_hal_status (*queue_create)(lowbit_hal_device *device,
                                    const lowbit_hal_queue_options *options,
                                    lowbit_hal_queue **out);
  void (*queue_free)(lowbit_hal_device *device, lowbit_hal_queue *queue);
  /** Reserves what dispatching \p kernel on up to \p max_rows rows with
   *  caches of \p cache_rows rows needs (scratch), so dispatch allocates
   *  nothing. */
  lowbit_hal_status (*queue_reserve)(lowbit_hal_device *device,
                                     lowbit_hal_queue *queue,
                                     const lowbit_hal_kernel *kernel,
                                     int64_t max_rows, int64_t cache_rows);
  /** Runs \p kernel with lowbit_hal_op_binding_count(kind) bindings. */
  lowbit_hal_status (*dispatch)(lowbit_hal_device *device,
                                lowbit_hal_queue *queue,
                                const lowbit_hal_kernel *kernel,
                                const lowbit_hal_binding *bindings,
                                int32_t binding_count, const void *push,
                                uint32_t push_size);
  /** Host -> device. \p src is read before the next fence completes. */
  lowbit_hal_status (*copy_host_to_buffer)(lowbit_hal_device *device,
                                           lowbit_hal_queue *queue,
                                           const void *src,
                                           lowbit_hal_buffer *dst,
                                           uint64_t dst_offset, uint64_t bytes);
  /** Device -> host; \p dst is written once a later fence is waited on. */
  lowbit_hal_status (*copy_buffer_to_host)(lowbit_hal_device *device,
                                           lowbit_hal_queue *queue,
                                           lowbit_hal_buffer *src,
                                           uint64_t src_offset, void *dst,
                                           uint64_t bytes);
  /** Device -> device, both buffers of this device. */
  lowbit_hal_status (*copy_buffer)(lowbit_hal_device *device,
                                   lowbit_hal_queue *queue,
                                   lowbit_hal_buffer *src, uint64_t src_offset,
                                   lowbit_hal_buffer *dst, uint64_t dst_offset,
                                   uint64_t bytes);

  /* Fences */
  lowbit_hal_status (*fence_create)(lowbit_hal_device *device,
                                    lowbit_hal_fence **out);
  void (*fence_free)(lowbit_hal_device *device, lowbit_hal_fence *fence);
  /** Signals \p fence once all earlier work on \p queue has completed. */
  lowbit_hal_status (*queue_signal)(lowbit_hal_device *device,
                                    lowbit_hal_queue *queue,
                                    lowbit_hal_fence *fence);
  /** Blocks until \p fence is signalled; the status of the failed work if
   *  any failed. */
  lowbit_hal_status (*fence_wait)(lowbit_hal_device *device,
                                  lowbit_hal_fence *fence);
} lowbit_hal_device_vtable;

/** Every device starts with this header (drivers extend it). */
struct lowbit_hal_device {
  const lowbit_hal_device_vtable *vtable;
};

/*===----------------------------------------------------------------------===*
 * Drivers and the registry
 *===----------------------------------------------------------------------===*/

typedef struct lowbit_hal_device_params {
  /** Reserved; zero. */
  uint32_t flags;
} lowbit_hal_device_params;

typedef lowbit_hal_status (*lowbit_hal_device_create_fn)(
    const lowbit_hal_device_params *params, lowbit_hal_device **out);

typedef struct lowbit_hal_driver {
  uint32_t api_version;
  const char *name;
  lowbit_hal_device_create_fn create;
} lowbit_hal_driver;

/** The drivers of this runtime: LOWBITRT_DRIVERS order, `cpu` last. */
int32_t lowbit_hal_driver_count(void);
const lowbit_hal_driver *lowbit_hal_driver_get(int32_t index);
/** Comma-separated driver names, e.g. "x86, cpu". */
const char *lowbit_hal_driver_names(void);

/** Creates the device of driver \p name. LOWBIT_HAL_UNSUPPORTED naming the
 *  available drivers if there is none; LOWBIT_HAL_INTERNAL if its API version
 *  differs from this header's. */
lowbit_hal_status
lowbit_hal_device_create(const char *name,
                         const lowbit_hal_device_params *params,
                         lowbit_hal_device **out);

/** Destroys a device (NULL is ignored). */
void lowbit_hal_device_destroy(lowbit_hal_device *device);

#ifdef __cplusplus
#define LOWBIT_HAL_EXTERN_C extern "C"
#else
#define LOWBIT_HAL_EXTERN_C extern
#endif

/** Defines `lowbit_hal_driver_<NAME>`, the entry the registry lists. Use once
 *  per driver folder, at global scope. */
#define LOWBIT_HAL_DEFINE_DRIVER(NAME, CREATE_FN)                              \
  LOWBIT_HAL_EXTERN_C const lowbit_hal_driver lowbit_hal_driver_##NAME;        \
  const lowbit_hal_driver lowbit_hal_driver_##NAME = {LOWBIT_HAL_API_VERSION,  \
                                                      #NAME, CREATE_FN}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LOWBITRT_HAL_H */
