//===- OutputFile.h - atomic, checked output files --------------*- C++ -*-===//
//
// The one way lowbit writes a file (bundles, IR, weights, reports, logit
// dumps), on both sides: the runtime's BundleWriter and, through
// lowbit/Support/OutputFile.h, every compiler tool.
//
// * A regular file (or a path that does not exist yet) is written under a
//   temporary name in the destination directory,
//       DIR/.NAME.lowbit-tmp-PID-XXXXXXXX
//   every write and the close are checked, the data is fsync'ed, and the
//   temporary is renamed over NAME. On any failure NAME is untouched and the
//   temporary removed. A temporary left by a killed process is removed by
//   the next write of the same NAME once its PID is dead; such names are
//   always safe to delete by hand.
// * A path that exists and is not a regular file (a character or block
//   device such as /dev/null, a FIFO) is opened and written directly: it is
//   never renamed over or replaced. A socket or directory is refused.
// * "-" is standard output when the caller allows it.
//
// No LLVM, no exceptions escape: every call returns a status (bool) and an
// error message that names the path.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_OUTPUTFILE_H
#define LOWBITRT_OUTPUTFILE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace lowbit::rt {

/// The marker in temporary names: `.NAME` + kTempMarker + `PID-XXXXXXXX`.
inline constexpr const char *kTempMarker = ".lowbit-tmp-";

class OutputFile {
public:
  OutputFile() = default;
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;
  /// Discards the output unless commit() succeeded.
  ~OutputFile();

  /// Starts writing `path` (see the file comment). With `dashIsStdout`, "-"
  /// is standard output.
  bool open(const std::string &path, std::string &err,
            bool dashIsStdout = false);

  /// Appends `n` bytes; every short write is retried, every error reported.
  bool write(const void *data, size_t n, std::string &err);

  /// Whether pwrite() works: true for the temporary of a regular file, false
  /// for devices, FIFOs and standard output (callers then build the bytes in
  /// memory and write() them in order).
  bool seekable() const { return kind == Kind::Temp; }

  /// Overwrites `n` bytes at `offset` (seekable() outputs only).
  bool pwrite(uint64_t offset, const void *data, size_t n, std::string &err);

  /// Finishes the output: for a temporary, fsync, close and rename over the
  /// path (then fsync the directory); for a direct output, close. On failure
  /// the destination is untouched and the temporary removed.
  bool commit(std::string &err);

  /// Abandons the output: the temporary is removed, the destination untouched.
  void discard();

  /// The destination path given to open().
  const std::string &path() const { return dest; }
  /// Whether the output is written directly (device, FIFO, stdout).
  bool isDirect() const { return kind == Kind::Direct || kind == Kind::Stdout; }

private:
  enum class Kind { None, Temp, Direct, Stdout };
  Kind kind = Kind::None;
  int fd = -1;
  std::string dest;   // what the caller asked for
  std::string target; // what is renamed over (dest, or a symlink's target)
  std::string tmp;
};

/// Writes `n` bytes to `path` through an OutputFile.
bool writeFileAtomically(const std::string &path, const void *data, size_t n,
                         std::string &err, bool dashIsStdout = false);

/// Pre-flight check, before any expensive work, that `path` can be written
/// as a file: its directory exists and is writable, and `path` is not a
/// directory or socket. Devices and FIFOs pass (they are written directly).
bool checkOutputFile(const std::string &path, std::string &err,
                     bool dashIsStdout = false);

/// The same for an output directory (written as a temporary sibling and
/// renamed): its parent exists and is writable and `path`, if it exists, is
/// a directory.
bool checkOutputDirectory(const std::string &path, std::string &err);

/// A fresh temporary name for `path` (same directory): the caller creates it
/// exclusively (O_EXCL / mkdir) and retries on EEXIST.
std::string temporaryName(const std::string &path);

/// Removes the temporaries of `path` (files or directories named as
/// temporaryName() names them) whose process is no longer alive. Returns how
/// many were removed.
int sweepStaleTemporaries(const std::string &path);

/// Removes `path` and, for a directory, everything below it (no symlinks
/// followed). Returns false if something could not be removed.
bool removeTree(const std::string &path);

} // namespace lowbit::rt

#endif // LOWBITRT_OUTPUTFILE_H
