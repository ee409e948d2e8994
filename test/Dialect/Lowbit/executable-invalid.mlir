// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{'func.func' op is not allowed in lowbit.executable @x86 (only lowbit.kernel and lowbit.binary)}}
  func.func @f() {
    return
  }
}

// -----

func.func @nested() {
  // expected-error @below {{'lowbit.executable' op expects parent op 'builtin.module'}}
  "lowbit.executable"() ({
  }) {sym_name = "x86", target = #lowbit.target<"x86">} : () -> ()
  return
}

// -----

// expected-error @below {{'lowbit.executable' op requires attribute 'target'}}
"lowbit.executable"() ({
}) {sym_name = "x86"} : () -> ()
