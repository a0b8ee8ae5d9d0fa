#!/bin/sh
# Rebuild the committed test objects (Debian's clang-14).  The objects are
# committed so that the tests do not need clang; this is how they were made.
set -e
cd "$(dirname "$0")"
CFLAGS="-O2 -g -target bpf -Wall -Werror -Wno-unused-function"
clang-14 $CFLAGS -c progs.c -o progs.o
clang-14 $CFLAGS -mcpu=v1 -c progs.c -o progs_v1.o
clang-14 $CFLAGS -mcpu=v2 -c progs.c -o progs_v2.o
clang-14 $CFLAGS -mcpu=v3 -c progs.c -o progs_v3.o
clang-14 $CFLAGS -c maps.c -o maps.o
clang-14 $CFLAGS -mcpu=v3 -c maps.c -o maps_v3.o
clang-14 $CFLAGS -c legacy_maps.c -o legacy_maps.o
clang-14 $CFLAGS -c kconfig.c -o kconfig.o
clang-14 $CFLAGS -c pyprobe.c -o pyprobe.o
clang-14 $CFLAGS -c calls.c -o calls.o
clang-14 $CFLAGS -mcpu=v3 -c calls.c -o calls_v3.o
clang-14 $CFLAGS -c globals.c -o globals.o
clang-14 $CFLAGS -c map_attrs.c -o map_attrs.o
clang-14 $CFLAGS -c core.c -o core.o
clang-14 $CFLAGS -c btf_kinds.c -o btf_kinds.o
