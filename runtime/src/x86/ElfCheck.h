//===- ElfCheck.h - validates an ELF shared object before dlopen -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The dynamic loader trusts the headers of the file it maps: a program
/// header whose segment extends past the end of a truncated file is mapped
/// anyway, and the first touch of the missing pages raises SIGBUS inside
/// dlopen. checkElfSharedObject() checks every header the loader reads (the
/// ELF header, every program header, every section header) against the size
/// of the blob before the x86 driver hands it to dlopen, so a truncated or
/// malformed code blob is an error naming the field, not a crash.
///
/// It checks structure only: a well-formed shared object still runs
/// arbitrary code when loaded (see "Bundles from others" in
/// docs/reliability.md and the signature section of docs/bundle-format.md).
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_ELFCHECK_H
#define LOWBITRT_X86_ELFCHECK_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace lowbitrt::x86 {

/// Checks that [data, data + size) is a little-endian ELF64 x86-64 shared
/// object (ET_DYN) whose program headers, loadable segments, dynamic segment,
/// section headers and sections all lie inside the blob, with consistent
/// sizes and alignments. Returns false with \p err naming the first field at
/// fault ("program header 2 (PT_LOAD): segment [4096, 12288) ends past the
/// end of the 8000-byte blob").
bool checkElfSharedObject(const uint8_t *data, size_t size, std::string &err);

} // namespace lowbitrt::x86

#endif // LOWBITRT_X86_ELFCHECK_H
