"""Reading a configuration file with the line of every value, and writing one in a stable order.

PyYAML's composer keeps each node's position; the document is built from the same nodes,
so an error found later (by the schema, by a model's validation) can name its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: `2026-12-04T02:00:00Z` stays the string an
    editor's JSON Schema sees (the schema parses it), and a date without a zone is refused
    there instead of becoming a naive datetime here."""


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class ConfigError:
    """One thing wrong with a file: where (a path into the document, and its line) and what."""

    path: Path
    message: str
    line: int | None = None

    def where(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text or "file"

    def __str__(self) -> str:
        line = f"line {self.line}: " if self.line is not None else ""
        return f"{line}{self.where()}: {self.message}"


@dataclass
class LoadedFile:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of the value at `path`, or of the nearest enclosing one that has a line."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def error(self, path: Path, message: str) -> ConfigError:
        return ConfigError(path, message, self.line_of(path))


def load(text: str) -> LoadedFile:
    """The document with a line for every path; a YAML error is one ConfigError at its line."""
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LoadedFile(data={})
        loaded = LoadedFile(data=None)
        _walk(node, (), loaded, set())
        if loaded.errors:
            return loaded
        loaded.data = loader.construct_document(node)
        return loaded
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        return LoadedFile(data=None, errors=[ConfigError((), f"not valid YAML: {error.problem or error}", line)])
    except yaml.YAMLError as error:
        return LoadedFile(data=None, errors=[ConfigError((), f"not valid YAML: {error}")])
    except RecursionError:
        return LoadedFile(data=None, errors=[ConfigError((), "not valid YAML: nested too deeply")])
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path, loaded: LoadedFile, seen: set[int], key_line: int | None = None) -> None:
    if id(node) in seen:
        # An alias repeats a node; a few nested ones would make a small file expand
        # exponentially for everything that reads it afterwards.
        line = key_line or node.start_mark.line + 1
        loaded.errors.append(ConfigError(path, "YAML aliases (*name) are not supported", line))
        return
    loaded.lines[path] = node.start_mark.line + 1
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            line = key_node.start_mark.line + 1
            if key in keys:
                # PyYAML keeps the last silently; a config tool must not.
                loaded.errors.append(
                    ConfigError((*path, key), f"{key!r} is given twice (also on line {keys[key]})", line)
                )
            keys[key] = line
            _walk(value_node, (*path, key), loaded, seen, line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), loaded, seen)


def dump(document: dict[str, Any], header: list[str]) -> str:
    """YAML in the order given (the caller sorts), with `header` as comment lines on top."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    return comments + body
