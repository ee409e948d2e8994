//===- AllTargets.cpp - register every target built into the binary -------===//
//
// Part of the lowbit project.
//
// Expands the CMake-generated Targets.inc (one LOWBIT_TARGET(<name>) line per
// entry of LOWBIT_TARGETS). Kept apart from TargetRegistry.cpp so target
// libraries can link the registry without a dependency cycle.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Target/TargetRegistry.h"

#define LOWBIT_TARGET(name)                                                    \
  extern "C" void lowbitRegisterTarget_##name(::lowbit::TargetRegistry &);
#include "lowbit/Target/Targets.inc"
#undef LOWBIT_TARGET

void lowbit::registerAllTargets(TargetRegistry &registry) {
#define LOWBIT_TARGET(name) lowbitRegisterTarget_##name(registry);
#include "lowbit/Target/Targets.inc"
#undef LOWBIT_TARGET
}
