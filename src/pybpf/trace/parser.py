"""Script text to syntax tree: recursive descent, with bpftrace's (C's) operator precedence."""

from __future__ import annotations

from . import ast
from .lexer import Token, tokenize
from .source import Diagnostics, ScriptError, Source, Span
from .probes import ALIASES
from .structs import C_WORDS, QUALIFIERS, c_integer
from .types import CAST_TYPES

# Binary operators by precedence level, loosest first.
BINARY_LEVELS = (("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="), ("<<", ">>"),
                 ("+", "-"), ("*", "/", "%"))
COMPOUND = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^",
            "<<=": "<<", ">>=": ">>"}
_ATTACH_STOP = set(" \t\r\n{,")
_NO_SEMICOLON = (ast.If, ast.While, ast.Unroll, ast.ForRange, ast.ForMap)
# C spellings a cast or declaration may use for bpftrace's integer types.
TYPE_ALIASES = {"char": "int8", "short": "int16", "int": "int32", "long": "int64", "int8_t": "int8",
                "int16_t": "int16", "int32_t": "int32", "int64_t": "int64", "uint8_t": "uint8",
                "uint16_t": "uint16", "uint32_t": "uint32", "uint64_t": "uint64", "u8": "uint8", "u16": "uint16",
                "u32": "uint32", "u64": "uint64", "s8": "int8", "s16": "int16", "s32": "int32", "s64": "int64"}


class Parser:
    def __init__(self, source: Source):
        self.source = source
        self.diagnostics = Diagnostics(source)
        self.tokens = tokenize(source, self.diagnostics)
        self.pos = 0

    # -- token helpers --------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "ident") and self.tok.text in texts

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.unexpected()
        return self.take()

    def unexpected(self) -> ScriptError:
        """bpftrace's parser reports the span from the token before the offending one."""
        token = self.tok
        what = "end of file" if token.kind == "eof" else token.text
        start = self.tokens[self.pos - 1].span.start if self.pos else token.span.start
        return self.diagnostics.fail(Span(start, max(token.span.end, start + 1)), f"syntax error, unexpected {what}")

    # -- program ----------------------------------------------------------------------
    def program(self) -> ast.Program:
        config: dict[str, ast.Expr] = {}
        if self.at("config") and self.tokens[self.pos + 1].text == "=":
            config = self.config()
        declarations, macros, enums, structs, probes = [], [], [], [], []
        while self.tok.kind != "eof":  # map declarations and macros may come in any order before the probes
            if self.at("let") and self.tokens[self.pos + 1].kind == "map" and not probes:
                declarations.append(self.map_declaration())
            elif self.at("macro") and self.tokens[self.pos + 1].kind == "ident":
                macros.append(self.macro())
            elif self.at("enum") and (self.tokens[self.pos + 1].text == "{" or self.tokens[self.pos + 2].text == "{"):
                enums.append(self.enum())
            elif self.at("struct", "union") and self.tokens[self.pos + 1].kind == "ident" and \
                    self.tokens[self.pos + 2].text == "{":
                structs.append(self.struct_declaration())
            else:
                probes.append(self.probe(len(probes)))
        if not probes:
            raise self.diagnostics.fail(self.tok.span, "syntax error, unexpected end of file, expecting a probe")
        self.diagnostics.check()
        return ast.Program(Span(0, len(self.source.text)), probes, config, declarations, macros, enums, structs)

    def enum(self) -> ast.EnumDecl:
        start = self.take()
        name = self.take().text if self.tok.kind == "ident" else ""
        self.expect("{")
        variants, value = [], 0
        while not self.at("}"):
            token = self.take()
            if token.kind != "ident":
                self.pos -= 1
                raise self.unexpected()
            if self.at("="):
                self.take()
                negative = self.at("-") and bool(self.take())
                number = self.take()
                if number.kind != "int":
                    self.pos -= 1
                    raise self.unexpected()
                value = -number.value if negative else number.value
            variants.append((token.text, value))
            value += 1
            if not self.at("}"):
                self.expect(",")
        end = self.expect("}")
        if self.at(";"):
            self.take()
        return ast.EnumDecl(start.span.to(end.span), name, variants)

    def struct_declaration(self) -> ast.StructDecl:
        """`struct [Name] { fields } [__attribute__((packed))] [;]` (also `union`)."""
        start = self.take()
        name = self.take().text if self.tok.kind == "ident" else ""
        self.expect("{")
        fields = []
        while not self.at("}"):
            if self.tok.kind == "eof":
                raise self.unexpected()
            fields.append(self.struct_field())
            if not self.at("}"):
                self.expect(";")
            while self.at(";"):
                self.take()
        end = self.expect("}")
        packed = False
        while self.at("__attribute__"):
            self.take()
            self.expect("(")
            depth = 1
            while depth:
                token = self.take()
                if token.kind == "eof":
                    raise self.unexpected()
                depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "op" else 0
                packed = packed or token.text in ("packed", "__packed__")
        if self.at(";") and name:
            self.take()
        return ast.StructDecl(start.span.to(end.span), start.text, name, fields, packed)

    def struct_field(self) -> ast.FieldDecl:
        """`TYPE [*...] NAME [[N]...] [: BITS]`, TYPE a C integer, a bpftrace type, `struct X` or an inline
        `struct { ... }`."""
        start = self.tok
        if self.at("struct", "union") and (self.tokens[self.pos + 1].text == "{" or
                                           self.tokens[self.pos + 2].text == "{"):
            spec: str | ast.StructDecl = self.struct_declaration()
        elif self.at("struct", "union", "enum") and self.tokens[self.pos + 1].kind == "ident":
            kind, tag = self.take().text, self.take().text
            spec = "int32" if kind == "enum" else f"{kind} {tag}"  # a C enum is an int
        else:
            words = []
            while self.tok.kind == "ident" and (self.tok.text in C_WORDS or self.tok.text in QUALIFIERS or
                                                (not words and (self.tok.text in CAST_TYPES or
                                                                self.tok.text in TYPE_ALIASES or
                                                                self.tok.text == "bool"))):
                words.append(self.take().text)
                if words[-1] in CAST_TYPES or (words[-1] in TYPE_ALIASES and words[-1] not in C_WORDS):
                    break  # `uint32`, `u8`: a whole type in one word
            core = [w for w in words if w not in QUALIFIERS]
            if core == ["char"]:
                spec = "char"  # char arrays are strings
            elif len(core) == 1 and (core[0] in CAST_TYPES or core[0] == "bool"):
                spec = core[0]
            elif len(core) == 1 and core[0] in TYPE_ALIASES and core[0] not in C_WORDS:
                spec = TYPE_ALIASES[core[0]]
            else:
                spec = c_integer(core) if core else None
                if spec is None:
                    raise self.unexpected()
        stars = ""
        while self.at("*"):
            self.take()
            stars += "*"
        name = self.take()
        if name.kind != "ident":
            self.pos -= 1
            raise self.unexpected()
        dims = ""
        while self.at("["):
            self.take()
            count = self.take()
            if count.kind != "int":
                self.pos -= 1
                raise self.unexpected()
            self.expect("]")
            dims += f"[{count.value}]"
        bits = None
        if self.at(":"):
            self.take()
            width = self.take()
            if width.kind != "int":
                self.pos -= 1
                raise self.unexpected()
            bits = width.value
        if isinstance(spec, str):
            spec += stars + dims
        return ast.FieldDecl(start.span.to(self.tokens[self.pos - 1].span), spec, name.text, bits)

    def macro(self) -> ast.Macro:
        start = self.take()
        name = self.take()
        self.expect("(")
        params: list[ast.Expr] = []
        while not self.at(")"):
            token = self.take()
            if token.kind == "var":
                params.append(ast.Variable(token.span, token.text))
            elif token.kind == "map":
                params.append(ast.Map(token.span, token.text, []))
            elif token.kind == "ident":
                params.append(ast.Builtin(token.span, token.text))
            else:
                self.pos -= 1
                raise self.unexpected()
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        body = self.block_expr()
        return ast.Macro(start.span.to(name.span), name.text, params, body)  # bpftrace points at `macro name`

    def map_declaration(self) -> ast.MapDeclaration:
        start = self.take()
        name = self.take()
        self.expect("=")
        kind = self.take()
        if kind.kind != "ident":
            raise self.diagnostics.fail(kind.span, f"syntax error, unexpected {kind.text}, expecting a map type")
        self.expect("(")
        entries = self.take()
        if entries.kind != "int":
            raise self.diagnostics.fail(entries.span, "a map declaration takes its size: let @m = hash(1024);")
        self.expect(")")
        end = self.expect(";")
        return ast.MapDeclaration(start.span.to(end.span), name.text, kind.text, entries.value)

    def config(self) -> dict[str, ast.Expr]:
        self.take(), self.expect("="), self.expect("{")
        entries = {}
        while not self.at("}"):
            name = self.take()
            if name.kind != "ident":
                raise self.diagnostics.fail(name.span, f"syntax error, unexpected {name.text}, expecting a name")
            self.expect("=")
            entries[name.text] = self.primary()
            if not self.at("}"):
                self.expect(";")
        self.expect("}")
        return entries

    def probe(self, index: int) -> ast.Probe:
        start = self.tok.span.start
        points = [self.attach_point()]
        while self.at(","):
            self.take()
            points.append(self.attach_point())
        predicate = None
        if self.at("/"):
            self.take()
            predicate = self.expr()
            if self.tok.kind != "endpred":
                raise self.unexpected()
            self.take()
        body = self.block()
        return ast.Probe(Span(start, self.tokens[self.pos - 1].span.end), points, predicate, body, index)

    def attach_point(self) -> ast.AttachPoint:
        """An attach point is raw text up to whitespace, `{` or `,` (paths and wildcards included)."""
        start, text = self.tok.span.start, self.source.text
        if self.tok.kind == "eof":
            raise self.unexpected()
        end = start
        while end < len(text) and text[end] not in _ATTACH_STOP and not (end > start and text[end] == "/"
                                                                        and text[end - 1] != ":"
                                                                        and "/" not in text[start:end]):
            end += 1
        if end == start:
            raise self.unexpected()
        while self.tok.kind != "eof" and self.tok.span.start < end:
            self.take()
        raw = text[start:end]
        provider, _, rest = raw.partition(":")
        provider = ALIASES.get(provider, provider)
        target, _, func = rest.partition(":")
        if provider not in ("BEGIN", "END") and not rest:
            func, target = target, ""
        return ast.AttachPoint(Span(start, end), provider, target, func, raw)

    # -- statements --------------------------------------------------------------------
    def block(self, value: bool = False) -> list[ast.Stmt]:
        """`{ statements }`; `self.open_value` tells whether the last was an expression with no `;`
        after it (the value of a block expression).  In a block expression (`value`) a last
        `if (...) {...} else {...}` is an if expression: its value is the block's."""
        self.expect("{")
        statements, self.open_value = [], False
        while not self.at("}"):
            if self.tok.kind == "eof":
                raise self.unexpected()
            if self.at(";"):
                self.take()
                continue
            if value and self.at("if") and self.tokens[self._if_chain_end(self.pos)].text == "}":
                expr = self.if_expression()
                statement: ast.Stmt = ast.ExprStmt(expr.span, expr)
            else:
                statement = self.statement()
            statements.append(statement)
            open_value = isinstance(statement, ast.ExprStmt) and not self.at(";")
            if not self.at("}") and not isinstance(statement, _NO_SEMICOLON) and \
                    not (isinstance(statement, ast.ExprStmt) and isinstance(statement.expr, ast.BlockExpr)):
                self.expect(";")
            self.open_value = open_value and self.at("}")
        self.expect("}")
        return statements

    def _if_chain_end(self, pos: int) -> int:
        """The token after `if (...) {...} else [if (...) {...} else] {...}` starting at pos; pos itself
        when the tokens there are no such chain."""
        def skip(at: int, open_: str, close: str) -> int:  # past the balanced group opening at `at`
            if self.tokens[at].text != open_:
                return -1
            depth = 0
            while at < len(self.tokens) - 1:
                text = self.tokens[at].text if self.tokens[at].kind == "op" else ""
                depth += (text == open_) - (text == close)
                at += 1
                if depth == 0:
                    return at
            return -1
        at = pos
        while self.tokens[at].text == "if":
            at = skip(at + 1, "(", ")")
            at = skip(at, "{", "}") if at >= 0 else -1
            if at < 0 or self.tokens[at].text != "else":
                return pos
            at += 1
        end = skip(at, "{", "}")
        return end if end >= 0 and at != pos else pos

    def block_expr(self) -> ast.BlockExpr:
        start = self.tok.span
        body = self.block(value=True)
        value = body.pop().expr if self.open_value else None
        return ast.BlockExpr(start.to(self.tokens[self.pos - 1].span), body, value)

    def statement(self) -> ast.Stmt:
        token = self.tok
        if token.kind == "ident" and token.text == "if":
            return self.if_statement()
        if token.kind == "ident" and token.text == "while":
            self.take(), self.expect("(")
            cond = self.expr()
            self.expect(")")
            body = self.block()
            return ast.While(token.span.to(self.tokens[self.pos - 1].span), cond, body)
        if token.kind == "ident" and token.text == "for":
            return self.for_statement()
        if token.kind == "ident" and token.text == "unroll":
            self.take(), self.expect("(")
            count = self.take()
            if count.kind != "int":
                raise self.diagnostics.fail(count.span, "unroll takes an integer literal")
            self.expect(")")
            body = self.block()
            return ast.Unroll(token.span.to(self.tokens[self.pos - 1].span), count.value, body)
        if token.kind == "ident" and token.text in ("break", "continue"):
            self.take()
            return ast.Jump(token.span, token.text)
        if token.kind == "ident" and token.text == "return":
            self.take()
            value = None if self.at(";", "}") else self.expr()
            return ast.Return(token.span if value is None else token.span.to(value.span), value)
        if token.kind == "ident" and token.text == "let" and self.tokens[self.pos + 1].kind == "var":
            return self.var_declaration()
        if token.kind == "ident" and token.text == "_" and self.tokens[self.pos + 1].text == "=":
            self.take(), self.take()  # `_ = e`: evaluate e, discard its value (and the warning)
            value = self.expr()
            return ast.ExprStmt(token.span.to(value.span), value)
        expr = self.expr()
        if self.tok.kind == "op" and (self.tok.text == "=" or self.tok.text in COMPOUND):
            op = self.take()
            if not isinstance(expr, (ast.Map, ast.Variable)):
                raise self.diagnostics.fail(expr.span, "only maps and scratch variables can be assigned to")
            value = self.expr()
            return ast.Assign(expr.span.to(value.span), expr, value, COMPOUND.get(op.text, ""), op.span)
        if self.at("++", "--") and isinstance(expr, (ast.Map, ast.Variable)):
            op = self.take()
            return ast.Assign(expr.span.to(op.span), expr, ast.Integer(op.span, 1), op.text[0])
        return ast.ExprStmt(expr.span, expr)

    def var_declaration(self) -> ast.VarDecl:
        start = self.take()
        token = self.take()
        variable = ast.Variable(token.span, token.text)
        type_name = value = None
        if self.at(":"):
            self.take()
            type_name = self.type_name()
            if type_name is None:
                raise self.unexpected()
        if self.at("="):
            self.take()
            value = self.expr()
        end = value.span if value is not None else self.tokens[self.pos - 1].span
        return ast.VarDecl(start.span.to(end), variable, type_name, value)

    def type_name(self) -> "str | ast.TypeOf | None":
        """A type at the current token (`uint32`, `int8_t *`, `struct Foo *`, `bool`, `int8[4]`,
        `typeof(e)`), consumed; else None (nothing consumed)."""
        token, mark = self.tok, self.pos
        if token.kind != "ident":
            return None
        if token.text == "typeof" and self.tokens[self.pos + 1].text == "(":
            return self.typeof()
        if token.text in ("struct", "union", "enum") and self.tokens[self.pos + 1].kind == "ident":
            self.take()
            name = f"{token.text} {self.take().text}"
        elif token.text in CAST_TYPES or token.text in TYPE_ALIASES or token.text in ("bool", "string", "size_t"):
            self.take()
            name = "uint64" if token.text == "size_t" else TYPE_ALIASES.get(token.text, token.text)
        else:
            return None
        while self.at("*"):
            self.take()
            name += "*"
        while self.at("["):
            self.take()
            if self.tok.kind == "int":
                name += f"[{self.take().value}]"
            else:
                name += "[]"
            if not self.at("]"):
                self.pos = mark
                return None
            self.take()
        return name

    def typeof(self) -> ast.TypeOf:
        """`typeof(type)` or `typeof(expr)`."""
        start = self.take()
        self.expect("(")
        operand = self.type_argument() or self.expr()
        end = self.expect(")")
        return ast.TypeOf(start.span.to(end.span), operand)

    def derived_type(self) -> ast.TypeOf | None:
        """`t*`, `t[2]` of a name that is no type (a macro parameter standing for `typeof(...)`), followed
        by `)` or `,`; else None (nothing consumed)."""
        mark, name = self.pos, self.tok
        if name.kind != "ident" or self.tokens[self.pos + 1].text not in ("*", "["):
            return None
        self.take()
        suffix = ""
        while self.at("*"):
            self.take()
            suffix += "*"
        while self.at("[") and self.tokens[self.pos + 1].kind == "int" and self.tokens[self.pos + 2].text == "]":
            self.take()
            suffix += f"[{self.take().value}]"
            self.take()
        if not self.at(")", ","):
            self.pos = mark
            return None
        return ast.TypeOf(name.span.to(self.tokens[self.pos - 1].span), ast.Builtin(name.span, name.text), suffix)

    def type_argument(self) -> ast.Expr | None:
        """A type written as an argument (`sizeof(struct Foo)`, `typeof(uint64*)`): one followed by `)` or
        `,`; else None (nothing consumed)."""
        mark, start = self.pos, self.tok.span
        spec = self.type_name() or self.derived_type()
        if spec is None or not self.at(")", ","):
            self.pos = mark
            return None
        if isinstance(spec, ast.TypeOf):
            return spec
        return ast.TypeName(start.to(self.tokens[self.pos - 1].span), spec)

    def for_statement(self) -> ast.Stmt:
        start = self.take()
        self.expect("(")
        variable = self.take()
        if variable.kind != "var":
            raise self.diagnostics.fail(variable.span, "for needs a scratch variable: for ($i : 0..10) { ... }")
        self.expect(":")
        var = ast.Variable(variable.span, variable.text)
        if self.tok.kind == "map":
            token = self.take()
            self.expect(")")
            body = self.block()
            return ast.ForMap(start.span.to(self.tokens[self.pos - 1].span), var,
                              ast.Map(token.span, token.text, []), body)
        low = self.binary(0)
        self.expect("..")
        high = self.binary(0)
        self.expect(")")
        body = self.block()
        return ast.ForRange(start.span.to(self.tokens[self.pos - 1].span), var, low, high, body)

    def if_statement(self) -> ast.If:
        start = self.take()
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        then = self.block()
        otherwise: list[ast.Stmt] = []
        if self.at("else"):
            self.take()
            otherwise = [self.if_statement()] if self.at("if") else self.block()
        return ast.If(start.span.to(self.tokens[self.pos - 1].span), cond, then, otherwise)

    # -- expressions -----------------------------------------------------------------------
    def expr(self) -> ast.Expr:
        cond = self.binary(0)
        if self.at("?"):
            self.take()
            then = None if self.at(":") else self.expr()  # `a ?: b` is a when a is true
            self.expect(":")
            otherwise = self.expr()
            return ast.Ternary(cond.span.to(otherwise.span), cond, then, otherwise)
        return cond

    def binary(self, level: int) -> ast.Expr:
        if level == len(BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.tok.kind == "op" and self.tok.text in BINARY_LEVELS[level]:
            op = self.take().text
            right = self.binary(level + 1)
            left = ast.Binary(left.span.to(right.span), op, left, right)
        return left

    def unary(self) -> ast.Expr:
        if self.at("++", "--") and self.tokens[self.pos + 1].kind in ("var", "map"):
            op = self.take()  # `++$x` in an expression: the value after the step
            target = self.postfix(self.primary())
            return ast.Unary(op.span.to(target.span), op.text, target)
        if self.tok.kind == "op" and self.tok.text in ("-", "!", "~", "+", "*", "&"):
            op = self.take()
            operand = self.unary()
            return operand if op.text == "+" else ast.Unary(op.span.to(operand.span), op.text, operand)
        if self.at("("):
            mark = self.pos
            start = self.take()
            target = self.type_name() or self.derived_type()
            if target is not None and self.at(")"):
                self.take()
                operand = self.unary()
                return ast.Cast(start.span.to(operand.span), target, operand)
            self.pos = mark
        return self.postfix(self.primary())

    def postfix(self, expr: ast.Expr) -> ast.Expr:
        """Field access `.f`/`->f`, tuple elements `.0`, indexing `[e]` and map keys `@m[k]`, left to right."""
        while True:
            if (self.at("->") or self.at(".")) and self.tokens[self.pos + 1].kind == "ident":
                arrow = self.take().text == "->"
                member = self.take()
                expr = ast.FieldAccess(expr.span.to(member.span), expr, member.text, arrow)
            elif self.at(".") and self.tokens[self.pos + 1].kind == "int":
                self.take()
                index = self.take()
                expr = ast.TupleAccess(expr.span.to(index.span), expr, index.value)
            elif self.at("[") and isinstance(expr, ast.Map) and not expr.keys:
                self.take()
                keys = [self.expr()]
                while self.at(","):
                    self.take()
                    keys.append(self.expr())
                end = self.expect("]")
                expr = ast.Map(expr.span.to(end.span), expr.name, keys)
            elif self.at("["):  # `$t[1 + 1]` (a tuple element by a constant expression), `$a[i]` (an array's)
                self.take()
                index_expr = self.expr()
                end = self.expect("]")
                expr = ast.TupleAccess(expr.span.to(end.span), expr, -1, index_expr)
            else:
                return expr

    def primary(self) -> ast.Expr:
        token = self.tok
        if token.kind == "int":
            self.take()
            return ast.Integer(token.span, token.value)
        if token.kind == "str":
            self.take()
            return ast.String(token.span, token.value)
        if token.kind == "var":
            self.take()
            return ast.Variable(token.span, token.text)
        if token.kind == "param":
            self.take()
            return ast.PositionalParam(token.span, 0 if token.text == "$#" else int(token.text[1:]))
        if token.kind == "map":
            self.take()
            return ast.Map(token.span, token.text, [])
        if token.kind == "ident" and token.text == "typeof" and self.tokens[self.pos + 1].text == "(":
            return self.typeof()
        if token.kind == "ident" and token.text == "if" and self.tokens[self.pos + 1].text == "(":
            return self.if_expression()
        if token.kind == "ident":
            self.take()
            if self.at("("):
                self.take()
                args = []
                while not self.at(")"):
                    args.append(self.type_argument() or self.expr())
                    if not self.at(")"):
                        self.expect(",")
                end = self.expect(")")
                return ast.Call(token.span.to(end.span), token.text, args, token.span)
            return ast.Builtin(token.span, token.text)
        if self.at("{"):
            return self.block_expr()
        if self.at("(") and self.tokens[self.pos + 1].kind == "ident" and self.tokens[self.pos + 2].text == "=":
            return self.record()
        if self.at("("):
            start = self.take()
            items = [self.expr()]
            while self.at(","):
                self.take()
                items.append(self.expr())
            end = self.expect(")")
            return items[0] if len(items) == 1 else ast.Tuple(start.span.to(end.span), items)
        raise self.unexpected()

    def if_expression(self) -> ast.Ternary:
        """`if (c) { ...; a } else { ...; b }` as a value (current bpftrace): a ternary of two block
        expressions; `else if` nests."""
        start = self.take()
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        then = self.block_expr()
        if not self.at("else"):
            raise self.diagnostics.fail(start.span.to(then.span), "an if expression needs an else branch")
        self.take()
        otherwise = self.if_expression() if self.at("if") else self.block_expr()
        return ast.Ternary(start.span.to(otherwise.span), cond, then, otherwise)

    def record(self) -> ast.Record:
        """`(a = 1, b = "x")`."""
        start = self.take()
        names, items = [], []
        while True:
            name = self.take()
            if name.kind != "ident":
                self.pos -= 1
                raise self.unexpected()
            if name.text in names:
                raise self.diagnostics.fail(name.span, f"Named argument list already contains name: {name.text}")
            self.expect("=")
            names.append(name.text)
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        end = self.expect(")")
        return ast.Record(start.span.to(end.span), names, items)


def parse(source: Source) -> ast.Program:
    """The syntax tree of a script, or ScriptError with bpftrace's diagnostics."""
    return Parser(source).program()
