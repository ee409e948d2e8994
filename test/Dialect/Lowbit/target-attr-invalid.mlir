// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{target name 'X86' must be a lowercase identifier ([a-z][a-z0-9_]*)}}
module attributes {lowbit.target = #lowbit.target<"X86">} {
}

// -----

// expected-error @below {{target features must be sorted and unique, got 'avx2' after 'fma'}}
module attributes {lowbit.target = #lowbit.target<"x86", features = ["fma", "avx2"]>} {
}

// -----

// expected-error @below {{target features must be sorted and unique, got 'fma' after 'fma'}}
module attributes {lowbit.target = #lowbit.target<"x86", features = ["fma", "fma"]>} {
}

// -----

// expected-error @below {{target feature 'AVX2' must be lowercase [a-z0-9_.+-] and non-empty}}
module attributes {lowbit.target = #lowbit.target<"x86", features = ["AVX2"]>} {
}

// -----

// Unknown keys are rejected.
// expected-error @below {{expected 'features'}}
module attributes {lowbit.target = #lowbit.target<"x86", cpu = "znver4">} {
}

// -----

// expected-error @below {{'lowbit.target' is only valid on a module, not on 'func.func'}}
func.func @f() attributes {lowbit.target = #lowbit.target<"x86">} {
  return
}

// -----

// expected-error @below {{'lowbit.target' must be a #lowbit.target, got "x86"}}
module attributes {lowbit.target = "x86"} {
}
