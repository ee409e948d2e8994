// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=4" -verify-diagnostics

// expected-error @below {{act-bits must be 0 (float activations) or 8, got 4}}
module {
}
