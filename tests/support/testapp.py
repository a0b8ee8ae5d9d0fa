"""A small application for the Python-probe tests."""

import time

from pybpf import usdt

REQUEST = usdt.probe("testapp", "request")


def add(a, b):
    return a + b


def greet(name):
    return "hello " + name


def slow(ms):
    time.sleep(ms / 1000)
    return ms


def handle(path, size):
    REQUEST.fire(path, size)
    return size
