"""A small RFC 8941 Structured Field Values parser and serializer.

RFC 9421 needs Dictionaries of Inner Lists (``Signature-Input``), of Byte
Sequences (``Signature``, ``Content-Digest``) and parameters with Integers and
Strings.  We keep our own (~150 lines, standard library only) because
``activitypub/`` may not depend on third-party SF libraries; the tests cross-check
it against ``http-sf`` via the independent ``http-message-signatures`` package.

Values: ``int``, ``float`` (Decimal), ``str`` (String), :class:`Token`, ``bytes``
(Byte Sequence), ``bool``.  An Item is ``(value, params)``; an Inner List is
``(list_of_items, params)``; params is a ``dict`` (insertion ordered).
"""

from __future__ import annotations

import base64
import re
import string
from typing import Union


class Token(str):
    """An SF Token (unquoted), kept apart from an SF String."""


BareItem = Union[int, float, str, Token, bytes, bool]
Params = dict[str, BareItem]
Item = tuple[BareItem, Params]
InnerList = tuple[list[Item], Params]
Member = Union[Item, InnerList]


class SFError(ValueError):
    """The field value is not a valid Structured Field."""


_KEY_FIRST = set(string.ascii_lowercase + "*")
_KEY_CHARS = set(string.ascii_lowercase + string.digits + "_-.*")
_TCHAR = set(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")
_B64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise SFError("non-ASCII character")
        self.s = text.strip(" ")
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        char = self.peek()
        self.i += 1
        return char

    def skip(self, chars: str = " ") -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def done(self) -> bool:
        return self.i >= len(self.s)

    def dictionary(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        while not self.done():
            key = self.key()
            if self.peek() == "=":
                self.i += 1
                out[key] = self.item_or_inner_list()
            else:
                out[key] = (True, self.params())
            self.skip(" \t")
            if self.done():
                return out
            if self.take() != ",":
                raise SFError("expected ',' between dictionary members")
            self.skip(" \t")
            if self.done():
                raise SFError("trailing comma")
        return out

    def item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def inner_list(self) -> InnerList:
        self.i += 1
        items: list[Item] = []
        while not self.done():
            self.skip()
            if self.peek() == ")":
                self.i += 1
                return items, self.params()
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise SFError("expected ' ' or ')' in inner list")
        raise SFError("unterminated inner list")

    def item(self) -> Item:
        return self.bare(), self.params()

    def params(self) -> Params:
        out: Params = {}
        while self.peek() == ";":
            self.i += 1
            self.skip()
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare()
            out[key] = value
        return out

    def key(self) -> str:
        if self.peek() not in _KEY_FIRST or not self.peek():
            raise SFError(f"bad key start {self.peek()!r}")
        start = self.i
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start : self.i]

    def bare(self) -> BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            self.i += 1
            flag = self.take()
            if flag not in ("0", "1"):
                raise SFError("bad boolean")
            return flag == "1"
        if char and (char.isalpha() or char == "*"):
            start = self.i
            self.i += 1
            while self.peek() and self.peek() in _TCHAR:
                self.i += 1
            return Token(self.s[start : self.i])
        raise SFError(f"unexpected {char!r}")

    def number(self) -> int | float:
        match = re.compile(r"-?\d+(\.\d+)?").match(self.s, self.i)
        if not match:
            raise SFError("bad number")
        text = match.group(0)
        self.i = match.end()
        if match.group(1) is None:
            if len(text.lstrip("-")) > 15:
                raise SFError("integer too long")
            return int(text)
        whole, frac = text.lstrip("-").split(".")
        if len(whole) > 12 or len(frac) > 3:
            raise SFError("decimal too long")
        return float(text)

    def string(self) -> str:
        self.i += 1
        out = []
        while not self.done():
            char = self.take()
            if char == "\\":
                nxt = self.take()
                if nxt not in ('"', "\\"):
                    raise SFError("bad escape in string")
                out.append(nxt)
            elif char == '"':
                return "".join(out)
            elif not (" " <= char <= "~"):
                raise SFError("bad character in string")
            else:
                out.append(char)
        raise SFError("unterminated string")

    def byte_sequence(self) -> bytes:
        self.i += 1
        end = self.s.find(":", self.i)
        if end < 0:
            raise SFError("unterminated byte sequence")
        text = self.s[self.i : end]
        self.i = end + 1
        if not _B64.fullmatch(text):
            raise SFError("bad base64 in byte sequence")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except ValueError as exc:
            raise SFError("bad base64 in byte sequence") from exc


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an SF Dictionary (RFC 8941 section 4.2.2); duplicate keys: last wins."""
    return _Parser(text).dictionary()


def parse_item(text: str) -> Item:
    parser = _Parser(text)
    item = parser.item()
    if not parser.done():
        raise SFError("trailing characters after item")
    return item


def is_inner_list(member: Member) -> bool:
    return isinstance(member[0], list)


def serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise SFError(f"cannot serialize {type(value).__name__}")


def serialize_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={serialize_bare(v)}" for k, v in params.items())


def serialize_item(item: Item) -> str:
    return serialize_bare(item[0]) + serialize_params(item[1])


def serialize_inner_list(inner: InnerList) -> str:
    return "(" + " ".join(serialize_item(i) for i in inner[0]) + ")" + serialize_params(inner[1])


def serialize_member(member: Member) -> str:
    if is_inner_list(member):
        return serialize_inner_list(member)  # type: ignore[arg-type]
    return serialize_item(member)  # type: ignore[arg-type]


def serialize_dictionary(members: dict[str, Member]) -> str:
    parts = []
    for key, member in members.items():
        if not is_inner_list(member) and member[0] is True:
            parts.append(key + serialize_params(member[1]))
        else:
            parts.append(f"{key}={serialize_member(member)}")
    return ", ".join(parts)
