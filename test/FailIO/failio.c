/*===- failio.c - test-only LD_PRELOAD shim that fails writes ------------===*
 *
 * Makes writes to some paths fail as on a full or broken disk, so the tests
 * can check every tool's outputs without root or a small file system. Only
 * the tests load it (LD_PRELOAD=liblowbit-failio.so); production code has
 * no hook.
 *
 *   LOWBIT_FAILIO_PATH   substring of the file's path (/proc/self/fd/N) that
 *                        selects the descriptors to fail (required)
 *   LOWBIT_FAILIO_OP     write (default): write/pwrite/writev fail once
 *                        LOWBIT_FAILIO_AFTER bytes in total went to matching
 *                        files (the write crossing the limit is short);
 *                        fsync: fsync/fdatasync fail; close: close fails
 *                        (after closing, as Linux does)
 *   LOWBIT_FAILIO_AFTER  bytes to let through before failing (default 0)
 *   LOWBIT_FAILIO_ERRNO  ENOSPC (default), EIO or EDQUOT
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long written; /* bytes let through to matching files */

static int failErrno(void) {
  const char *e = getenv("LOWBIT_FAILIO_ERRNO");
  if (e && strcmp(e, "EIO") == 0)
    return EIO;
  if (e && strcmp(e, "EDQUOT") == 0)
    return EDQUOT;
  return ENOSPC;
}

static int opIs(const char *op) {
  const char *o = getenv("LOWBIT_FAILIO_OP");
  return strcmp(o && *o ? o : "write", op) == 0;
}

static int matches(int fd) {
  const char *pattern = getenv("LOWBIT_FAILIO_PATH");
  if (!pattern || !*pattern || fd < 0)
    return 0;
  char link[64], path[PATH_MAX + 1];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, PATH_MAX);
  if (n <= 0)
    return 0;
  path[n] = '\0';
  return strstr(path, pattern) != NULL;
}

/* How many of `n` bytes may go through; *fail: fail now; *counted: the
   bytes count towards the limit. */
static size_t allowance(int fd, size_t n, int *fail, int *counted) {
  *fail = 0;
  *counted = 0;
  if (!opIs("write") || !matches(fd))
    return n;
  *counted = 1;
  const char *a = getenv("LOWBIT_FAILIO_AFTER");
  long long limit = a ? atoll(a) : 0;
  long long left = limit - written;
  if (left <= 0) {
    *fail = 1;
    return 0;
  }
  return (long long)n > left ? (size_t)left : n;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*fd_fn)(int);

/* Looks up the next definition of `name` once (not thread-safe in theory;
   the pointer store is idempotent). */
#define REAL(name, type)                                                       \
  static type real_##name;                                                     \
  if (!real_##name)                                                            \
    real_##name = (type)dlsym(RTLD_NEXT, #name);

ssize_t write(int fd, const void *buf, size_t n) {
  REAL(write, write_fn);
  int fail, counted;
  size_t allowed = allowance(fd, n, &fail, &counted);
  if (fail) {
    errno = failErrno();
    return -1;
  }
  ssize_t w = real_write(fd, buf, allowed);
  if (w > 0 && counted)
    written += w;
  return w;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  REAL(pwrite, pwrite_fn);
  int fail, counted;
  size_t allowed = allowance(fd, n, &fail, &counted);
  if (fail) {
    errno = failErrno();
    return -1;
  }
  ssize_t w = real_pwrite(fd, buf, allowed, off);
  if (w > 0 && counted)
    written += w;
  return w;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
  REAL(writev, writev_fn);
  size_t total = 0;
  for (int i = 0; i < count; ++i)
    total += iov[i].iov_len;
  int fail, counted;
  size_t allowed = allowance(fd, total, &fail, &counted);
  if (fail) {
    errno = failErrno();
    return -1;
  }
  if (allowed != total) {
    /* Short: write the first `allowed` bytes only. */
    size_t done = 0;
    for (int i = 0; i < count && done < allowed; ++i) {
      size_t part = iov[i].iov_len < allowed - done ? iov[i].iov_len
                                                    : allowed - done;
      ssize_t w = write(fd, iov[i].iov_base, part);
      if (w < 0)
        return done ? (ssize_t)done : -1;
      done += (size_t)w;
      if ((size_t)w != part)
        break;
    }
    return (ssize_t)done;
  }
  ssize_t w = real_writev(fd, iov, count);
  if (w > 0 && counted)
    written += w;
  return w;
}

int fsync(int fd) {
  REAL(fsync, fd_fn);
  if (opIs("fsync") && matches(fd)) {
    errno = failErrno();
    return -1;
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync, fd_fn);
  if (opIs("fsync") && matches(fd)) {
    errno = failErrno();
    return -1;
  }
  return real_fdatasync(fd);
}

int close(int fd) {
  REAL(close, fd_fn);
  int fail = opIs("close") && matches(fd);
  int rc = real_close(fd);
  if (fail && rc == 0) {
    errno = failErrno();
    return -1;
  }
  return rc;
}
