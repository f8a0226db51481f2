"""Read YAML into a tree that remembers where every value came from (file, line, column).

`yaml.safe_load` semantics only (no tags that build objects), with two guards that make a hostile file
fail fast instead of hanging: a size limit and a limit on the expanded size of aliases (a 'billion
laughs' bomb).
"""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import Problem, ScenarioError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000


@dataclass
class Located:
    """A YAML value with its position; mappings and sequences hold Located children."""

    value: Any  # dict[str, Located] | list[Located] | scalar
    file: str
    line: int
    col: int
    key_positions: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def plain(self) -> Any:
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def positions(self, prefix: tuple = ()) -> dict[tuple, tuple[str, int, int]]:
        """Map every path (keys and list indices) to the position of its key or item."""
        out: dict[tuple, tuple[str, int, int]] = {prefix: (self.file, self.line, self.col)}
        if isinstance(self.value, dict):
            for k, child in self.value.items():
                out.update(child.positions(prefix + (k,)))
                out[prefix + (k,)] = self.key_positions.get(k, (child.file, child.line, child.col))
        elif isinstance(self.value, list):
            for i, child in enumerate(self.value):
                out.update(child.positions(prefix + (i,)))
        return out


def _problem(file: str, mark: Any, message: str, hint: str = "") -> ScenarioError:
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    return ScenarioError([Problem(file, line, col, message, hint)])


def _expanded_size(node: yaml.Node, memo: dict[int, int], depth: int = 0) -> int:
    """Size of the node tree with aliases expanded, computed without expanding them."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 200:
        raise RecursionError("YAML nested deeper than 200 levels")  # reported as 'nested too deeply'
    memo[key] = MAX_EXPANDED_NODES + 1  # a recursive alias counts as unbounded
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, depth + 1) for v in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_EXPANDED_NODES + 1)
    return memo[key]


class _Builder(yaml.SafeLoader):
    """SafeLoader that turns composed nodes into Located trees."""


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _to_located(node: yaml.Node, file: str, constructor: yaml.SafeLoader) -> Located:
    mark = node.start_mark
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        raise _problem(file, mark, f"YAML tag '{node.tag}' is not allowed in scenario files", "remove the tag")
    if isinstance(node, yaml.MappingNode):
        if not hasattr(node, "own_key_ids"):  # an aliased mapping is visited again, already flattened
            node.own_key_ids = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        own = node.own_key_ids
        constructor.flatten_mapping(node)  # merged ('<<') pairs come first; later pairs override them
        items: dict[str, Located] = {}
        key_pos: dict[str, tuple[str, int, int]] = {}
        own_keys: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _problem(file, key_node.start_mark, "mapping keys must be plain names")
            key = constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in own_keys:
                raise _problem(file, key_node.start_mark, f"duplicate key '{key}'", "each key may appear once per mapping")
            if id(key_node) in own:
                own_keys.add(key)
            items[key] = _to_located(value_node, file, constructor)
            key_pos[key] = (file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return Located(items, file, mark.line + 1, mark.column + 1, key_pos)
    if isinstance(node, yaml.SequenceNode):
        return Located([_to_located(v, file, constructor) for v in node.value], file, mark.line + 1, mark.column + 1)
    value = constructor.construct_object(node)
    if isinstance(value, float) and math.isnan(value):
        pass  # NaN is kept: the schema rejects it with a position
    return Located(value, file, mark.line + 1, mark.column + 1)


def _position(data: bytes | str, offset: int) -> tuple[int, int]:
    before = data[:offset]
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = before.count(newline) + 1
    return line, offset - (before.rfind(newline) + 1) + 1


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 text with no control characters YAML forbids, or a ScenarioError at the offending position."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError([Problem(file, 1, 1, "the file is UTF-16 text", "re-save it as UTF-8")])
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        line, col = _position(raw, offset)
        raise ScenarioError([Problem(file, line, col, f"not UTF-8 text: byte 0x{raw[offset]:02x} cannot be decoded",
                                     "re-save the file as UTF-8")]) from None
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)  # the characters YAML itself refuses
    if bad:
        char = bad.group()
        line, col = _position(text, bad.start())
        what = "a NUL byte" if char == "\0" else f"control character U+{ord(char):04X}"
        raise ScenarioError([Problem(file, line, col, f"{what} is not allowed in a scenario file",
                                     "a scenario is plain text: remove it, or re-save the file as UTF-8 text")])
    return text


def read_located(path: Path) -> Located:
    """Parse one YAML file into a Located tree, or raise ScenarioError with the position of the problem."""
    file = str(path)
    if "\0" in file:
        raise ScenarioError([Problem(file.replace("\0", "\\0"), 1, 1, "the file name contains a NUL character")])
    try:
        info = path.stat()
    except OSError as exc:
        raise ScenarioError([Problem(file, 1, 1, f"cannot read file: {exc.strerror or exc}")]) from None
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError([Problem(file, 1, 1, "is a folder, not a scenario file")])
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError([Problem(file, 1, 1, "not a regular file (a device, pipe or socket); not read",
                                     "give the path of a scenario's .yaml file")])
    size = info.st_size
    if size > MAX_FILE_BYTES:
        raise ScenarioError(
            [Problem(file, 1, 1, f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MiB limit for scenario files",
                     "split the scenario with 'extends:'")]
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([Problem(file, 1, 1, f"cannot read file: {exc.strerror or exc}")]) from None
    text = _decode(raw, file)
    try:
        loader = _Builder(text)
    except yaml.YAMLError as exc:  # the reader's own check of the characters (caught above, kept as a guard)
        raise ScenarioError([Problem(file, 1, 1, f"YAML error: {str(exc).splitlines()[0]}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError([Problem(file, 1, 1, "file is empty", "a scenario needs at least 'metadata:'")])
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise _problem(file, node.start_mark, f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias bomb?)",
                           "write the values out instead of nesting aliases")
        if not isinstance(node, yaml.MappingNode):
            raise _problem(file, node.start_mark, "the top level of a scenario must be a mapping of keys",
                           "start with 'metadata:'")
        return _to_located(node, file, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc.context}"
        raise _problem(file, mark, message, "check indentation, colons and quotes") from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, 1, 1, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, 1, 1, "YAML is nested too deeply", "a scenario nests a few levels")]) from None
    finally:
        loader.dispose()
