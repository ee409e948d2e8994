//===- ElfCheckTests.cpp - the ELF checker before dlopen --------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// A fuzz-style sweep over a generated kernel library: every truncation is
// rejected by checkElfSharedObject and by KernelLibrary::load (before dlopen,
// which raised SIGBUS on them), and corrupting any byte of the ELF header,
// program headers or section offsets/sizes either is rejected with an error
// or gives a library that loads in a child process without a signal.
//
//===----------------------------------------------------------------------===//

#include "ElfCheck.h"
#include "KernelGen.h"
#include "X86Driver.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

#include <cstring>
#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lowbitrt::x86;
namespace gen = lowbit::x86;

namespace {

/// A real kernel library (one small kernel), built once.
const std::vector<uint8_t> &library() {
  static const std::vector<uint8_t> lib = [] {
    gen::KernelKey key;
    key.bits = 4;
    key.groupSize = 32;
    key.K = 64;
    key.N = 32;
    key.batchTile = 1;
    key.isa = gen::Isa::AVX2;
    key.path = gen::ArithPath::FP32;
    auto bytes = gen::buildKernelLibrary({key});
    if (!bytes) {
      ADD_FAILURE() << llvm::toString(bytes.takeError());
      return std::vector<uint8_t>();
    }
    return std::vector<uint8_t>(bytes->begin(), bytes->end());
  }();
  return lib;
}

bool check(const std::vector<uint8_t> &b, std::string &err) {
  return checkElfSharedObject(b.data(), b.size(), err);
}

/// Loads \p b in a child process; true if the child neither crashed nor hung.
/// The child's exit code says whether dlopen accepted it (irrelevant here).
bool loadsWithoutSignal(const std::vector<uint8_t> &b, std::string &how) {
  pid_t pid = fork();
  if (pid < 0) {
    how = "fork failed";
    return false;
  }
  if (pid == 0) {
    alarm(20);
    std::string err;
    bool unsupported = false;
    auto lib = KernelLibrary::load(b.data(), b.size(), kX86CodeFormat, err,
                                   unsupported);
    _exit(lib ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    ;
  if (WIFSIGNALED(status)) {
    how = "child killed by signal " + std::to_string(WTERMSIG(status));
    return false;
  }
  return true;
}

TEST(ElfCheck, AcceptsGeneratedLibrary) {
  const auto &lib = library();
  ASSERT_FALSE(lib.empty());
  std::string err;
  EXPECT_TRUE(check(lib, err)) << err;
  bool unsupported = false;
  auto loaded = KernelLibrary::load(lib.data(), lib.size(), kX86CodeFormat, err,
                                    unsupported);
  EXPECT_TRUE(loaded) << err;
}

// The defect of issue 11.6: on main, dlopen of a truncated library raised
// SIGBUS (KernelLibrary::load had no check). Every length is tried.
TEST(ElfCheck, RejectsEveryTruncation) {
  const auto &lib = library();
  ASSERT_FALSE(lib.empty());
  for (size_t n = 0; n < lib.size(); ++n) {
    std::vector<uint8_t> cut(lib.begin(), lib.begin() + long(n));
    std::string err;
    ASSERT_FALSE(check(cut, err))
        << "accepted a truncation to " << n << " of " << lib.size() << " bytes";
    EXPECT_FALSE(err.empty());
    bool unsupported = true;
    std::string loadErr;
    auto loaded = KernelLibrary::load(cut.data(), cut.size(), kX86CodeFormat,
                                      loadErr, unsupported);
    ASSERT_FALSE(loaded);
    EXPECT_FALSE(unsupported);
    ASSERT_EQ(loadErr.rfind("malformed ELF shared object: ", 0), 0u) << loadErr;
  }
}

TEST(ElfCheck, Messages) {
  const auto &lib = library();
  ASSERT_FALSE(lib.empty());
  std::string err;
  std::vector<uint8_t> b(lib.begin(), lib.begin() + 10);
  EXPECT_FALSE(check(b, err));
  EXPECT_NE(err.find("smaller than an ELF64 header"), std::string::npos) << err;

  b = lib;
  b[0] = 'X';
  EXPECT_FALSE(check(b, err));
  EXPECT_NE(err.find("bad magic"), std::string::npos) << err;

  b = lib;
  b[EI_CLASS] = ELFCLASS32;
  EXPECT_FALSE(check(b, err));
  EXPECT_NE(err.find("not a little-endian ELF64"), std::string::npos) << err;

  // Cut in the middle of the last loadable segment: the program header says
  // where it ends.
  Elf64_Ehdr eh;
  std::memcpy(&eh, lib.data(), sizeof(eh));
  uint64_t loadEnd = 0;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, lib.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type == PT_LOAD)
      loadEnd = std::max<uint64_t>(loadEnd, ph.p_offset + ph.p_filesz);
  }
  ASSERT_GT(loadEnd, eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr));
  b.assign(lib.begin(), lib.begin() + long(loadEnd - 1));
  EXPECT_FALSE(check(b, err));
  EXPECT_NE(err.find("(PT_LOAD): segment"), std::string::npos) << err;
  EXPECT_NE(err.find("ends past the end of the " + std::to_string(b.size()) +
                     "-byte blob (truncated?)"),
            std::string::npos)
      << err;

  b = lib;
  uint16_t type = ET_EXEC;
  std::memcpy(b.data() + offsetof(Elf64_Ehdr, e_type), &type, 2);
  EXPECT_FALSE(check(b, err));
  EXPECT_NE(err.find("not a shared object"), std::string::npos) << err;
}

// Every byte of the ELF header and the program headers, and the offset and
// size of every section, set to 0 and XORed with 0xff: rejected, or loads
// in a child without a signal.
TEST(ElfCheck, CorruptedHeadersNeverCrash) {
  const auto &lib = library();
  ASSERT_FALSE(lib.empty());
  Elf64_Ehdr eh;
  std::memcpy(&eh, lib.data(), sizeof(eh));
  std::vector<size_t> positions;
  for (size_t i = 0; i < sizeof(Elf64_Ehdr); ++i)
    positions.push_back(i);
  for (size_t i = 0; i < eh.e_phnum * sizeof(Elf64_Phdr); ++i)
    positions.push_back(eh.e_phoff + i);
  for (size_t s = 0; s < eh.e_shnum; ++s)
    for (size_t i = 0; i < 16; ++i)
      positions.push_back(eh.e_shoff + s * sizeof(Elf64_Shdr) +
                          offsetof(Elf64_Shdr, sh_offset) + i);
  int rejected = 0, loaded = 0;
  for (size_t at : positions)
    for (int mode = 0; mode < 2; ++mode) {
      std::vector<uint8_t> b = lib;
      uint8_t before = b[at];
      b[at] = mode == 0 ? 0 : uint8_t(before ^ 0xff);
      if (b[at] == before)
        continue;
      std::string err;
      if (!check(b, err)) {
        EXPECT_FALSE(err.empty());
        ++rejected;
        continue;
      }
      ++loaded;
      std::string how;
      EXPECT_TRUE(loadsWithoutSignal(b, how))
          << "byte " << at << " set to " << int(b[at]) << ": " << how;
    }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);
  RecordProperty("rejected", rejected);
  RecordProperty("loaded", loaded);
}

} // namespace
