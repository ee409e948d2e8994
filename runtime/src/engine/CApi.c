/*===- CApi.c - liblowbit_rt.so ----------------------------------*- C -*-===*\
|*                                                                            *|
|* Part of the lowbit project.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The shared library's own translation unit: the implementation is the
 * (whole) lowbitrt_engine archive. Compiling the public header as C here
 * checks that it stays valid C.
 */
#include "lowbitrt/lowbit_rt.h"
