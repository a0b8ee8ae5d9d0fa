#!/bin/sh
# Rebuild packet.o (Debian's clang-14); committed so the tests do not need clang.
set -e
cd "$(dirname "$0")"
clang-14 -O2 -g -target bpf -Wall -Werror -I/usr/include/x86_64-linux-gnu -c packet.c -o packet.o
