//===- ElfCheck.cpp - validates an ELF shared object before dlopen --------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Every header is read with memcpy (the blob need not be aligned) and every
/// range is checked as `offset <= size && length <= size - offset`, which
/// cannot overflow.
///
//===----------------------------------------------------------------------===//

#include "ElfCheck.h"

#include <cstring>
#include <elf.h>
#include <vector>

using namespace lowbitrt::x86;

namespace {

template <typename T> T readAt(const uint8_t *data, uint64_t offset) {
  T v;
  std::memcpy(&v, data + offset, sizeof(T));
  return v;
}

/// True when [offset, offset + length) lies inside [0, size).
bool inside(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

std::string range(uint64_t offset, uint64_t length) {
  std::string end = length > UINT64_MAX - offset
                        ? std::string("2^64+")
                        : std::to_string(offset + length);
  return "[" + std::to_string(offset) + ", " + end + ")";
}

const char *phdrTypeName(uint32_t type) {
  switch (type) {
  case PT_NULL:
    return "PT_NULL";
  case PT_LOAD:
    return "PT_LOAD";
  case PT_DYNAMIC:
    return "PT_DYNAMIC";
  case PT_INTERP:
    return "PT_INTERP";
  case PT_NOTE:
    return "PT_NOTE";
  case PT_PHDR:
    return "PT_PHDR";
  case PT_TLS:
    return "PT_TLS";
  case PT_GNU_EH_FRAME:
    return "PT_GNU_EH_FRAME";
  case PT_GNU_STACK:
    return "PT_GNU_STACK";
  case PT_GNU_RELRO:
    return "PT_GNU_RELRO";
  default:
    return "other";
  }
}

bool isPowerOfTwo(uint64_t v) { return v && !(v & (v - 1)); }

/// Dynamic tags whose value is an address the loader dereferences, with the
/// tag holding the size of what is there (0: a size the loader derives).
struct AddressTag {
  int64_t tag;
  int64_t sizeTag;
  const char *name;
};
constexpr AddressTag kAddressTags[] = {
    {DT_STRTAB, DT_STRSZ, "DT_STRTAB"},
    {DT_SYMTAB, 0, "DT_SYMTAB"},
    {DT_HASH, 0, "DT_HASH"},
    {DT_GNU_HASH, 0, "DT_GNU_HASH"},
    {DT_RELA, DT_RELASZ, "DT_RELA"},
    {DT_REL, DT_RELSZ, "DT_REL"},
    {DT_JMPREL, DT_PLTRELSZ, "DT_JMPREL"},
    {DT_INIT_ARRAY, DT_INIT_ARRAYSZ, "DT_INIT_ARRAY"},
    {DT_FINI_ARRAY, DT_FINI_ARRAYSZ, "DT_FINI_ARRAY"},
    {DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ, "DT_PREINIT_ARRAY"},
    {DT_INIT, 0, "DT_INIT"},
    {DT_FINI, 0, "DT_FINI"},
    {DT_PLTGOT, 0, "DT_PLTGOT"},
    {DT_VERSYM, 0, "DT_VERSYM"},
    {DT_VERDEF, 0, "DT_VERDEF"},
    {DT_VERNEED, 0, "DT_VERNEED"},
};

} // namespace

bool lowbitrt::x86::checkElfSharedObject(const uint8_t *data, size_t size,
                                         std::string &err) {
  const uint64_t n = size;
  const std::string blob = "the " + std::to_string(n) + "-byte blob";
  if (!data || n < sizeof(Elf64_Ehdr)) {
    err = "ELF header: " + blob + " is smaller than an ELF64 header (" +
          std::to_string(sizeof(Elf64_Ehdr)) + " bytes; truncated?)";
    return false;
  }
  auto eh = readAt<Elf64_Ehdr>(data, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    err = "ELF header: bad magic (not an ELF file)";
    return false;
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT) {
    err = "ELF header: not a little-endian ELF64 file of version 1 (class " +
          std::to_string(eh.e_ident[EI_CLASS]) + ", data " +
          std::to_string(eh.e_ident[EI_DATA]) + ", version " +
          std::to_string(eh.e_version) + ")";
    return false;
  }
  if (eh.e_type != ET_DYN) {
    err = "ELF header: e_type is " + std::to_string(eh.e_type) +
          ", not a shared object (ET_DYN)";
    return false;
  }
  if (eh.e_machine != EM_X86_64) {
    err = "ELF header: e_machine is " + std::to_string(eh.e_machine) +
          ", not x86-64 (" + std::to_string(EM_X86_64) + ")";
    return false;
  }
  if (eh.e_ehsize != sizeof(Elf64_Ehdr)) {
    err = "ELF header: e_ehsize is " + std::to_string(eh.e_ehsize) +
          ", expected " + std::to_string(sizeof(Elf64_Ehdr));
    return false;
  }

  // Program headers: what the loader maps.
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
      eh.e_phnum == PN_XNUM) {
    err = "ELF header: " + std::to_string(eh.e_phnum) + " program headers of " +
          std::to_string(eh.e_phentsize) + " bytes (expected 1 to " +
          std::to_string(PN_XNUM - 1) + " of " +
          std::to_string(sizeof(Elf64_Phdr)) + ")";
    return false;
  }
  const uint64_t phBytes = uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (eh.e_phoff % 8 || !inside(eh.e_phoff, phBytes, n)) {
    err = "ELF header: program header table " + range(eh.e_phoff, phBytes) +
          (eh.e_phoff % 8 ? " is not 8-byte aligned"
                          : " ends past the end of " + blob + " (truncated?)");
    return false;
  }
  std::vector<Elf64_Phdr> loads;
  const Elf64_Phdr *dynamic = nullptr;
  Elf64_Phdr dynamicHeader{};
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    auto ph = readAt<Elf64_Phdr>(data, eh.e_phoff + i * sizeof(Elf64_Phdr));
    const std::string what = "program header " + std::to_string(i) + " (" +
                             phdrTypeName(ph.p_type) + ")";
    if (ph.p_type == PT_NULL)
      continue;
    if (ph.p_filesz && !inside(ph.p_offset, ph.p_filesz, n)) {
      err = what + ": segment " + range(ph.p_offset, ph.p_filesz) +
            " ends past the end of " + blob + " (truncated?)";
      return false;
    }
    if (ph.p_type == PT_LOAD) {
      if (ph.p_filesz > ph.p_memsz) {
        err = what + ": p_filesz " + std::to_string(ph.p_filesz) +
              " exceeds p_memsz " + std::to_string(ph.p_memsz);
        return false;
      }
      if (ph.p_memsz > UINT64_MAX - ph.p_vaddr ||
          ph.p_vaddr + ph.p_memsz > (uint64_t(1) << 47)) {
        err = what + ": addresses " + range(ph.p_vaddr, ph.p_memsz) +
              " are out of range";
        return false;
      }
      if (ph.p_align > 1 &&
          (!isPowerOfTwo(ph.p_align) ||
           ph.p_offset % ph.p_align != ph.p_vaddr % ph.p_align)) {
        err = what + ": p_align " + std::to_string(ph.p_align) +
              " is not a power of two dividing p_offset - p_vaddr";
        return false;
      }
      if ((ph.p_flags & ~uint32_t(PF_R | PF_W | PF_X)) ||
          !(ph.p_flags & PF_R)) {
        err = what + ": p_flags " + std::to_string(ph.p_flags) +
              " are not a readable combination of PF_R, PF_W and PF_X";
        return false;
      }
      if (ph.p_memsz > ph.p_filesz && !(ph.p_flags & PF_W)) {
        err = what + ": zero-filled tail in a segment that is not writable";
        return false;
      }
      if (!loads.empty() &&
          ph.p_vaddr < loads.back().p_vaddr + loads.back().p_memsz) {
        err = what + ": loadable segments overlap or are not sorted by "
                     "address";
        return false;
      }
      loads.push_back(ph);
    } else if (ph.p_type == PT_GNU_STACK) {
      if (ph.p_filesz || ph.p_memsz || (ph.p_flags & PF_X)) {
        err = what + ": asks for an executable or sized stack";
        return false;
      }
    } else if (ph.p_type == PT_DYNAMIC) {
      if (dynamic) {
        err = what + ": a second PT_DYNAMIC";
        return false;
      }
      dynamicHeader = ph;
      dynamic = &dynamicHeader;
    }
  }
  if (loads.empty()) {
    err = "program headers: no loadable (PT_LOAD) segment";
    return false;
  }
  if (!dynamic) {
    err = "program headers: no dynamic (PT_DYNAMIC) segment";
    return false;
  }
  // Headers the loader reads or changes in memory (the program headers, the
  // dynamic array, the RELRO range it write-protects, ...) must lie in loaded
  // memory, and their file bytes must be the ones mapped at their address.
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    auto ph = readAt<Elf64_Phdr>(data, eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type == PT_NULL || ph.p_type == PT_LOAD ||
        ph.p_type == PT_GNU_STACK)
      continue;
    const std::string what = "program header " + std::to_string(i) + " (" +
                             phdrTypeName(ph.p_type) + ")";
    if (ph.p_type == PT_PHDR &&
        (ph.p_offset != eh.e_phoff || ph.p_filesz != phBytes)) {
      err = what + ": does not describe the program header table";
      return false;
    }
    if (ph.p_filesz > ph.p_memsz) {
      err = what + ": p_filesz " + std::to_string(ph.p_filesz) +
            " exceeds p_memsz " + std::to_string(ph.p_memsz);
      return false;
    }
    bool inMemory = ph.p_memsz == 0, mapped = ph.p_filesz == 0;
    for (const Elf64_Phdr &l : loads) {
      if (ph.p_vaddr < l.p_vaddr)
        continue;
      uint64_t rel = ph.p_vaddr - l.p_vaddr;
      // Memory is mapped in whole pages (GNU_RELRO ends at a page end).
      uint64_t mappedBytes =
          (l.p_vaddr + l.p_memsz + 4095) / 4096 * 4096 - l.p_vaddr;
      if (inside(rel, ph.p_memsz, mappedBytes))
        inMemory = true;
      if (ph.p_filesz && inside(rel, ph.p_filesz, l.p_filesz) &&
          ph.p_offset >= l.p_offset && ph.p_offset - l.p_offset == rel)
        mapped = true;
    }
    if (!inMemory || !mapped) {
      err = what + ": " + range(ph.p_vaddr, ph.p_memsz) +
            (inMemory ? " is not the file range " +
                            range(ph.p_offset, ph.p_filesz) + " once loaded"
                      : " is not inside one loadable segment");
      return false;
    }
  }

  // Section headers: not used to load, but read by tools and by the
  // loader's debugging paths; a table past the end means a truncated file.
  if (eh.e_shoff || eh.e_shnum) {
    const uint64_t shBytes = uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr);
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) {
      err = "ELF header: " + std::to_string(eh.e_shnum) +
            " section headers of " + std::to_string(eh.e_shentsize) +
            " bytes (expected at least 1 of " +
            std::to_string(sizeof(Elf64_Shdr)) + ")";
      return false;
    }
    if (eh.e_shoff % 8 || !inside(eh.e_shoff, shBytes, n)) {
      err =
          "ELF header: section header table " + range(eh.e_shoff, shBytes) +
          (eh.e_shoff % 8 ? " is not 8-byte aligned"
                          : " ends past the end of " + blob + " (truncated?)");
      return false;
    }
    if (eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx >= eh.e_shnum) {
      err = "ELF header: e_shstrndx " + std::to_string(eh.e_shstrndx) +
            " is not below e_shnum " + std::to_string(eh.e_shnum);
      return false;
    }
    for (uint16_t i = 0; i < eh.e_shnum; ++i) {
      auto sh = readAt<Elf64_Shdr>(data, eh.e_shoff + i * sizeof(Elf64_Shdr));
      if (sh.sh_type == SHT_NULL || sh.sh_type == SHT_NOBITS)
        continue;
      if (!inside(sh.sh_offset, sh.sh_size, n)) {
        err = "section header " + std::to_string(i) + ": section " +
              range(sh.sh_offset, sh.sh_size) + " ends past the end of " +
              blob + " (truncated?)";
        return false;
      }
    }
  }

  // The dynamic segment: every address the loader follows must be inside a
  // loadable segment, and what it reads from there inside the file part.
  auto loadedAt = [&](uint64_t addr, uint64_t len, bool fileBacked) {
    for (const Elf64_Phdr &l : loads) {
      uint64_t limit = fileBacked ? l.p_filesz : l.p_memsz;
      if (addr >= l.p_vaddr && inside(addr - l.p_vaddr, len, limit))
        return true;
    }
    return false;
  };
  if (dynamic->p_filesz % sizeof(Elf64_Dyn) || dynamic->p_filesz == 0 ||
      !loadedAt(dynamic->p_vaddr, dynamic->p_filesz, true)) {
    err = "PT_DYNAMIC: " + std::to_string(dynamic->p_filesz) +
          " bytes at address " + std::to_string(dynamic->p_vaddr) +
          " are not whole entries inside a loadable segment";
    return false;
  }
  // The loader reads the dynamic array from memory: it must be the same
  // bytes as the file range checked here.
  bool mapsSame = false;
  for (const Elf64_Phdr &l : loads)
    if (dynamic->p_vaddr >= l.p_vaddr &&
        dynamic->p_vaddr - l.p_vaddr < l.p_filesz)
      mapsSame = dynamic->p_offset >= l.p_offset &&
                 dynamic->p_offset - l.p_offset == dynamic->p_vaddr - l.p_vaddr;
  if (!mapsSame) {
    err = "PT_DYNAMIC: file offset " + std::to_string(dynamic->p_offset) +
          " does not map to its address " + std::to_string(dynamic->p_vaddr);
    return false;
  }
  const uint64_t numDyn = dynamic->p_filesz / sizeof(Elf64_Dyn);
  std::vector<Elf64_Dyn> entries;
  bool terminated = false;
  for (uint64_t i = 0; i < numDyn; ++i) {
    auto d = readAt<Elf64_Dyn>(data, dynamic->p_offset + i * sizeof(Elf64_Dyn));
    if (d.d_tag == DT_NULL) {
      terminated = true;
      break;
    }
    entries.push_back(d);
  }
  if (!terminated) {
    err = "PT_DYNAMIC: no DT_NULL entry ends the dynamic array";
    return false;
  }
  auto value = [&](int64_t tag, uint64_t &out) {
    for (const Elf64_Dyn &d : entries)
      if (d.d_tag == tag) {
        out = d.d_un.d_val;
        return true;
      }
    return false;
  };
  for (const AddressTag &t : kAddressTags) {
    uint64_t addr = 0, len = 1;
    if (!value(t.tag, addr))
      continue;
    if (t.sizeTag && !value(t.sizeTag, len)) {
      err = std::string("PT_DYNAMIC: ") + t.name + " without its size";
      return false;
    }
    if (len &&
        !loadedAt(addr, len,
                  t.tag != DT_INIT && t.tag != DT_FINI && t.tag != DT_PLTGOT)) {
      err = std::string("PT_DYNAMIC: ") + t.name + " " + range(addr, len) +
            " is not inside a loadable segment";
      return false;
    }
  }
  uint64_t strsz = 0;
  value(DT_STRSZ, strsz);
  for (const Elf64_Dyn &d : entries)
    if ((d.d_tag == DT_NEEDED || d.d_tag == DT_SONAME ||
         d.d_tag == DT_RUNPATH || d.d_tag == DT_RPATH) &&
        d.d_un.d_val >= strsz) {
      err = "PT_DYNAMIC: a name at string offset " +
            std::to_string(d.d_un.d_val) + " is past DT_STRSZ " +
            std::to_string(strsz);
      return false;
    }
  return true;
}
