//===- OutputFile.cpp - atomic, checked output files ------------*- C++ -*-===//
//
// See lowbitrt/OutputFile.h. POSIX only; no LLVM.
//
//===----------------------------------------------------------------------===//

#include "lowbitrt/OutputFile.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lowbit::rt {
namespace {

std::string errnoText(int e) { return std::strerror(e); }

/// The directory part of `path` ("." when it has none).
std::string dirName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

/// The last component of `path`.
std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Checks that `dir` is an existing, writable directory.
bool checkDirectory(const std::string &path, const std::string &dir,
                    std::string &err) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    err = path + ": cannot write: directory '" + dir + "': " + errnoText(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    err = path + ": cannot write: '" + dir + "' is not a directory";
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    err = path + ": cannot write: directory '" + dir +
          "' is not writable: " + errnoText(errno);
    return false;
  }
  return true;
}

/// Flushes the directory entry of a rename; best effort (some file systems
/// do not support fsync on directories).
void syncDirectory(const std::string &dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return;
  (void)::fsync(dfd);
  ::close(dfd);
}

bool writeAll(int fd, const void *data, size_t n, const std::string &path,
              std::string &err) {
  const char *p = static_cast<const char *>(data);
  while (n) {
    ssize_t w = ::write(fd, p, n < (1u << 30) ? n : (1u << 30));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      err = path + ": write failed: " + errnoText(errno);
      return false;
    }
    if (w == 0) {
      err = path + ": write failed: no progress";
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int removeEntry(const char *path, const struct stat *, int, struct FTW *) {
  return ::remove(path) == 0 ? 0 : -1;
}

} // namespace

std::string temporaryName(const std::string &path) {
  static std::atomic<unsigned> counter{0};
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x =
      static_cast<uint64_t>(ts.tv_nsec) ^
      (static_cast<uint64_t>(ts.tv_sec) << 20) ^
      (static_cast<uint64_t>(counter.fetch_add(1)) * 0x9E3779B97F4A7C15ull) ^
      reinterpret_cast<uintptr_t>(&ts);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  char suffix[48];
  std::snprintf(suffix, sizeof(suffix), "%s%d-%08x", kTempMarker,
                static_cast<int>(::getpid()), static_cast<unsigned>(x));
  std::string dir = dirName(path);
  std::string name = "." + baseName(path) + suffix;
  return (path.find('/') == std::string::npos ? "" : dir + "/") + name;
}

bool removeTree(const std::string &path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT;
  if (!S_ISDIR(st.st_mode))
    return ::unlink(path.c_str()) == 0;
  return ::nftw(path.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

int sweepStaleTemporaries(const std::string &path) {
  std::string dir = dirName(path);
  std::string prefix = "." + baseName(path) + kTempMarker;
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return 0;
  int removed = 0;
  while (struct dirent *e = ::readdir(d)) {
    const char *name = e->d_name;
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0)
      continue;
    const char *pidText = name + prefix.size();
    char *end = nullptr;
    errno = 0;
    long pid = std::strtol(pidText, &end, 10);
    if (errno || end == pidText || *end != '-' || pid <= 0 || pid > INT_MAX)
      continue;
    // Only temporaries of processes that are gone; a live one (ours or
    // another writer's) is left alone.
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 ||
        errno != ESRCH)
      continue;
    if (removeTree(dir + "/" + name))
      ++removed;
  }
  ::closedir(d);
  return removed;
}

bool checkOutputFile(const std::string &path, std::string &err,
                     bool dashIsStdout) {
  if (dashIsStdout && path == "-")
    return true;
  if (path.empty()) {
    err = "empty output path";
    return false;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      err = path + ": cannot write: is a directory";
      return false;
    }
    if (S_ISSOCK(st.st_mode)) {
      err = path + ": cannot write: is a socket";
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      // Written directly: only the node itself must be writable.
      if (::access(path.c_str(), W_OK) != 0) {
        err = path + ": cannot write: " + errnoText(errno);
        return false;
      }
      return true;
    }
  }
  // A regular file or a new one: the temporary goes next to it.
  char resolved[PATH_MAX];
  std::string target = path;
  if (::realpath(path.c_str(), resolved))
    target = resolved;
  return checkDirectory(path, dirName(target), err);
}

bool checkOutputDirectory(const std::string &path, std::string &err) {
  if (path.empty()) {
    err = "empty output path";
    return false;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    err = path + ": cannot write the output directory: the path exists and "
                 "is not a directory";
    return false;
  }
  return checkDirectory(path, dirName(path), err);
}

OutputFile::~OutputFile() { discard(); }

bool OutputFile::open(const std::string &path, std::string &err,
                      bool dashIsStdout) {
  discard();
  dest = path;
  target = path;
  if (dashIsStdout && path == "-") {
    fd = STDOUT_FILENO;
    kind = Kind::Stdout;
    return true;
  }
  if (!checkOutputFile(path, err, dashIsStdout))
    return false;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or FIFO: never replaced, written in place.
    int f;
    do
      f = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    while (f < 0 && errno == EINTR);
    if (f < 0) {
      err = path + ": cannot open for writing: " + errnoText(errno);
      return false;
    }
    fd = f;
    kind = Kind::Direct;
    return true;
  }
  // A symlink to a file: replace the file, keep the link.
  char resolved[PATH_MAX];
  struct stat lst;
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) &&
      ::realpath(path.c_str(), resolved))
    target = resolved;
  sweepStaleTemporaries(target);
  for (int attempt = 0; attempt < 32; ++attempt) {
    tmp = temporaryName(target);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST)
      break;
  }
  if (fd < 0) {
    err = path + ": cannot create a temporary file '" + tmp +
          "': " + errnoText(errno);
    tmp.clear();
    return false;
  }
  kind = Kind::Temp;
  return true;
}

bool OutputFile::write(const void *data, size_t n, std::string &err) {
  if (fd < 0) {
    err = dest + ": write to a closed output";
    return false;
  }
  return writeAll(fd, data, n, dest, err);
}

bool OutputFile::pwrite(uint64_t offset, const void *data, size_t n,
                        std::string &err) {
  if (kind != Kind::Temp || fd < 0) {
    err = dest + ": cannot seek in this output";
    return false;
  }
  const char *p = static_cast<const char *>(data);
  while (n) {
    ssize_t w = ::pwrite(fd, p, n < (1u << 30) ? n : (1u << 30),
                         static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      err = dest + ": write failed: " +
            (w < 0 ? errnoText(errno) : std::string("no progress"));
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

bool OutputFile::commit(std::string &err) {
  switch (kind) {
  case Kind::None:
    err = dest + ": no output is open";
    return false;
  case Kind::Stdout:
    kind = Kind::None;
    fd = -1;
    return true;
  case Kind::Direct: {
    int rc = ::close(fd);
    fd = -1;
    kind = Kind::None;
    if (rc != 0 && errno != EINTR) {
      err = dest + ": close failed: " + errnoText(errno);
      return false;
    }
    return true;
  }
  case Kind::Temp:
    break;
  }
  if (::fsync(fd) != 0) {
    err = dest + ": cannot flush to disk: " + errnoText(errno);
    discard();
    return false;
  }
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) {
    err = dest + ": close failed: " + errnoText(errno);
    discard();
    return false;
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    err =
        dest + ": cannot rename '" + tmp + "' into place: " + errnoText(errno);
    discard();
    return false;
  }
  syncDirectory(dirName(target));
  tmp.clear();
  kind = Kind::None;
  return true;
}

void OutputFile::discard() {
  if (kind == Kind::Stdout) {
    fd = -1;
  } else if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
  if (!tmp.empty()) {
    ::unlink(tmp.c_str());
    tmp.clear();
  }
  kind = Kind::None;
}

bool writeFileAtomically(const std::string &path, const void *data, size_t n,
                         std::string &err, bool dashIsStdout) {
  OutputFile out;
  return out.open(path, err, dashIsStdout) && out.write(data, n, err) &&
         out.commit(err);
}

} // namespace lowbit::rt
