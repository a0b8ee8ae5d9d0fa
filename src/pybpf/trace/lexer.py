"""Tokens of the bpftrace language, each with its span."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .source import Diagnostics, Source, Span


@dataclass(frozen=True)
class Token:
    kind: str  # "int", "str", "ident", "var" ($x), "map" (@x or @), "param" ($1, $#), "op", "eof"
    text: str
    span: Span
    value: object = None


# Longest operators first: the regex alternation takes the first that matches.
OPERATORS = ("<<=", ">>=", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "->", "+=", "-=", "*=",
             "/=", "%=", "&=", "|=", "^=", "..", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "<", ">", "=",
             "?", ":", ";", ",", ".", "(", ")", "{", "}", "[", "]")
_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<int>0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:[eE][0-9]+)?(?:ns|us|ms|s|m|h|d)?)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<param>\$(?:[0-9]+|\#))
  | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<map>@[A-Za-z_0-9]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>""" + "|".join(re.escape(op) for op in OPERATORS) + r""")
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "e": "\x1b"}
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
          "d": 86_400_000_000_000}


def _string(text: str, span: Span, diagnostics: Diagnostics) -> str:
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES and not (nxt == "0" and body[i + 2: i + 3].isdigit()):
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]).group()
            out.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group()
            out.append(chr(int(digits, 8) & 0xFF))
            i += 1 + len(digits)
        else:
            diagnostics.error(Span(span.start + 1 + i, span.start + 3 + i), f"invalid escape character '\\{nxt}'")
            i += 2
    return "".join(out)


def _integer(text: str, span: Span, diagnostics: Diagnostics) -> int:
    digits = text.replace("_", "")
    unit = re.search(r"(ns|us|ms|s|m|h|d)$", digits) if not digits.lower().startswith("0x") else None
    scale = 1
    if unit:
        digits, scale = digits[:unit.start()], _UNITS[unit.group()]
    if "e" in digits.lower() and not digits.lower().startswith("0x"):
        mantissa, exponent = digits.lower().split("e")
        value = int(mantissa) * 10 ** int(exponent)
    else:
        value = int(digits, 0) if not re.fullmatch(r"0[0-7]+", digits) else int(digits, 8)
    value *= scale
    if value >= 1 << 64:
        diagnostics.error(span, f"invalid integer literal: {text} is out of range")
        return 0
    return value


def tokenize(source: Source, diagnostics: Diagnostics) -> list[Token]:
    tokens, pos, text = [], 0, source.text
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] == '"':
                raise diagnostics.fail(Span(pos, len(text.split("\n")[0]) if "\n" not in text[pos:] else
                                            text.index("\n", pos)), "unterminated string")
            if text.startswith("/*", pos):
                raise diagnostics.fail(Span(pos, pos + 2), "unterminated comment")
            raise diagnostics.fail(Span(pos, pos + 1), f"syntax error, invalid character '{text[pos]}'")
        kind, lexeme, span = match.lastgroup, match.group(), Span(pos, match.end())
        pos = match.end()
        if kind == "space":
            continue
        value = None
        if kind == "int":
            value = _integer(lexeme, span, diagnostics)
        elif kind == "str":
            value = _string(lexeme, span, diagnostics)
        tokens.append(Token(kind, lexeme, span, value))
    tokens.append(Token("eof", "", Span(len(text), len(text))))
    # A `/` right before `{` closes a predicate (`probe /cond/ {`), as bpftrace's lexer decides.
    for i, token in enumerate(tokens[:-1]):
        if token.kind == "op" and token.text == "/" and tokens[i + 1].text == "{":
            tokens[i] = Token("endpred", "/", token.span)
    return tokens
