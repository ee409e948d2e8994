//===- TargetRegistry.h - the set of available compiler targets -*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// An explicit (non-global) registry of TargetBackends. Tools create one,
/// fill it with registerAllTargets() and pass it to whatever needs a target.
///
/// Each target library defines, through LOWBIT_DEFINE_TARGET,
///   extern "C" void lowbitRegisterTarget_<name>(lowbit::TargetRegistry &);
/// registerAllTargets() calls these for every entry of the CMake list
/// LOWBIT_TARGETS, through the generated lowbit/Target/Targets.inc. There are
/// no static constructors.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TARGET_TARGETREGISTRY_H
#define LOWBIT_TARGET_TARGETREGISTRY_H

#include "lowbit/Target/TargetBackend.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/ErrorHandling.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {

/// Owns the registered targets, kept sorted by name.
class TargetRegistry {
public:
  TargetRegistry();
  ~TargetRegistry();
  TargetRegistry(const TargetRegistry &) = delete;
  TargetRegistry &operator=(const TargetRegistry &) = delete;

  /// Adds a target. Fails if the name is empty, not lowercase
  /// ([a-z0-9_]+), or already registered.
  llvm::Error registerTarget(std::unique_ptr<TargetBackend> target);

  /// The target named `name`, or an error listing the available ones.
  llvm::Expected<const TargetBackend &> lookup(llvm::StringRef name) const;

  /// Names of the registered targets, sorted.
  std::vector<std::string> names() const;

  /// The registered targets, sorted by name.
  std::vector<const TargetBackend *> targets() const;

private:
  std::vector<std::unique_ptr<TargetBackend>> backends;
};

/// Registers every target built into this binary (the CMake list
/// LOWBIT_TARGETS). Defined in the LowbitTargets library.
void registerAllTargets(TargetRegistry &registry);

} // namespace lowbit

/// Defines the registration entry point of a target. Put it, once, at the end
/// of lib/Target/<Name>/<Name>Target.cpp, at global scope; `name` is the
/// target's lowercase name (as in LOWBIT_TARGETS), `Class` a default
/// constructible TargetBackend whose getName() returns that name.
#define LOWBIT_DEFINE_TARGET(name, Class)                                      \
  extern "C" void lowbitRegisterTarget_##name(::lowbit::TargetRegistry &r) {   \
    auto target = std::make_unique<Class>();                                   \
    if (target->getName() != #name)                                            \
      ::llvm::report_fatal_error("target class " #Class " is named '" +        \
                                 target->getName() + "', not '" #name "'");    \
    if (::llvm::Error err = r.registerTarget(std::move(target)))               \
      ::llvm::report_fatal_error(std::move(err));                              \
  }

#endif // LOWBIT_TARGET_TARGETREGISTRY_H
