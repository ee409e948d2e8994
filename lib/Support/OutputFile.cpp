//===- OutputFile.cpp - atomic, checked outputs for the tools ---*- C++ -*-===//

#include "lowbit/Support/OutputFile.h"

#include "lowbitrt/OutputFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>

using namespace llvm;

namespace lowbit {
namespace {

Error makeError(const Twine &message) {
  return createStringError(std::make_error_code(std::errc::io_error), message);
}

/// A raw_ostream over an rt::OutputFile that remembers the first error and
/// drops everything after it.
class OutputFileStream : public raw_ostream {
public:
  explicit OutputFileStream(rt::OutputFile &out) : out(out) { SetBuffered(); }
  ~OutputFileStream() override { flush(); }
  bool failed() const { return !err.empty(); }
  const std::string &error() const { return err; }

private:
  void write_impl(const char *ptr, size_t size) override {
    pos += size;
    if (err.empty() && !out.write(ptr, size, err) && err.empty())
      err = out.path() + ": write failed";
  }
  uint64_t current_pos() const override { return pos; }

  rt::OutputFile &out;
  std::string err;
  uint64_t pos = 0;
};

} // namespace

Error writeOutputFile(StringRef path, function_ref<Error(raw_ostream &)> write,
                      bool dashIsStdout) {
  if (dashIsStdout && path == "-")
    outs().flush(); // what was printed before goes first
  rt::OutputFile out;
  std::string err;
  if (!out.open(path.str(), err, dashIsStdout))
    return makeError(err);
  {
    OutputFileStream os(out);
    if (Error e = write(os))
      return e; // `out` discards the temporary
    os.flush();
    if (os.failed())
      return makeError(os.error());
  }
  if (!out.commit(err))
    return makeError(err);
  return Error::success();
}

Error writeOutputFile(StringRef path, StringRef bytes) {
  std::string err;
  if (!rt::writeFileAtomically(path.str(), bytes.data(), bytes.size(), err))
    return makeError(err);
  return Error::success();
}

Error writeOutputDirectory(StringRef dir,
                           function_ref<Error(StringRef)> write) {
  if (Error e = checkOutputDirectory(dir))
    return e;
  std::string dest = dir.rtrim('/').str();
  if (dest.empty())
    dest = dir.str();
  rt::sweepStaleTemporaries(dest);
  std::string tmp;
  bool made = false;
  for (int attempt = 0; attempt < 32 && !made; ++attempt) {
    tmp = rt::temporaryName(dest);
    if (::mkdir(tmp.c_str(), 0777) == 0)
      made = true;
    else if (errno != EEXIST)
      break;
  }
  if (!made)
    return makeError(dest + ": cannot create a temporary directory '" + tmp +
                     "': " + std::strerror(errno));
  if (Error e = write(tmp)) {
    rt::removeTree(tmp);
    // Name the output the user asked for; the message names the file.
    return makeError(dest + ": " + toString(std::move(e)));
  }
  struct stat st;
  if (::lstat(dest.c_str(), &st) != 0) {
    if (::rename(tmp.c_str(), dest.c_str()) != 0) {
      int e = errno;
      rt::removeTree(tmp);
      return makeError(dest + ": cannot rename '" + tmp +
                       "' into place: " + std::strerror(e));
    }
    return Error::success();
  }
  // Swap the new directory with the old one in one step, then remove the
  // old one (now under the temporary name).
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(),
                  RENAME_EXCHANGE) == 0) {
    rt::removeTree(tmp);
    return Error::success();
  }
  // No RENAME_EXCHANGE (some file systems): move the old one aside first.
  std::string old = rt::temporaryName(dest);
  if (::rename(dest.c_str(), old.c_str()) != 0) {
    int e = errno;
    rt::removeTree(tmp);
    return makeError("cannot replace " + dest + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int e = errno;
    (void)::rename(old.c_str(), dest.c_str());
    rt::removeTree(tmp);
    return makeError(dest + ": cannot rename '" + tmp +
                     "' into place: " + std::strerror(e));
  }
  rt::removeTree(old);
  return Error::success();
}

Error checkOutputFile(StringRef path, bool dashIsStdout) {
  std::string err;
  if (!rt::checkOutputFile(path.str(), err, dashIsStdout))
    return makeError(err);
  return Error::success();
}

Error checkOutputDirectory(StringRef path) {
  std::string err;
  if (!rt::checkOutputDirectory(path.str(), err))
    return makeError(err);
  return Error::success();
}

} // namespace lowbit
