//===- OutputFile.h - atomic, checked outputs for the tools -----*- C++ -*-===//
//
// The LLVM-facing side of lowbitrt/OutputFile.h, the one helper every file
// lowbit writes goes through: a temporary `.NAME.lowbit-tmp-PID-XXXXXXXX`
// next to the destination, every write and the close checked, fsync, rename;
// on failure the previous file is untouched and the temporary removed.
// Devices and FIFOs (-o /dev/null) are written directly, never replaced.
// The pre-flight checks let a tool reject an unwritable output before the
// expensive work.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_OUTPUTFILE_H
#define LOWBIT_SUPPORT_OUTPUTFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace lowbit {

/// Writes `path` with what `write` prints into the stream; the file appears
/// only if `write` succeeds and every byte reached the disk. With
/// `dashIsStdout`, "-" is standard output.
llvm::Error
writeOutputFile(llvm::StringRef path,
                llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write,
                bool dashIsStdout = false);

/// Writes `bytes` to `path` the same way.
llvm::Error writeOutputFile(llvm::StringRef path, llvm::StringRef bytes);

/// Writes the directory `dir` through a temporary sibling directory that
/// `write` fills; it then replaces `dir` (swapped atomically where the
/// kernel supports it). On failure `dir` is untouched and the temporary
/// removed.
llvm::Error
writeOutputDirectory(llvm::StringRef dir,
                     llvm::function_ref<llvm::Error(llvm::StringRef)> write);

/// Pre-flight: `path` can be written as a file (its directory exists and is
/// writable; it is not a directory or a socket).
llvm::Error checkOutputFile(llvm::StringRef path, bool dashIsStdout = false);

/// Pre-flight: `path` can be written as an output directory.
llvm::Error checkOutputDirectory(llvm::StringRef path);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_OUTPUTFILE_H
