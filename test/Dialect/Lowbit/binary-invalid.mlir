// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{binary format 'elf' must be a versioned name such as "x86-elf-so-v1"}}
  lowbit.binary "elf" dense<[1, 2]> : tensor<2xui8>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{binary data must be a 1-D tensor of ui8, got 'tensor<2xi32>'}}
  lowbit.binary "x86-elf-so-v1" dense<[1, 2]> : tensor<2xi32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  lowbit.binary "x86-elf-so-v1" dense<[1, 2]> : tensor<2xui8>
  // expected-error @below {{duplicate binary of format 'x86-elf-so-v1' in executable @x86}}
  lowbit.binary "x86-elf-so-v1" dense<[3, 4]> : tensor<2xui8>
}

// -----

func.func @f() {
  // expected-error @below {{'lowbit.binary' op expects parent op 'lowbit.executable'}}
  lowbit.binary "x86-elf-so-v1" dense<[1, 2]> : tensor<2xui8>
  return
}
