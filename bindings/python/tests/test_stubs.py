"""The type stubs describe the compiled module: the same names, the same members."""

import ast
import pathlib

import tagflow
from tagflow import _core

STUBS = pathlib.Path(tagflow.__file__).with_name("_core.pyi")


def stubbed():
    """Top-level names of _core.pyi, with the members of each class."""
    tree = ast.parse(STUBS.read_text(encoding="utf-8"))
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for base in node.bases:  # inherited from a stubbed base class
                if isinstance(base, ast.Name) and names.get(base.id):
                    members |= names[base.id]
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
    return names


def test_every_public_name_of_the_module_is_stubbed_and_exported():
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    stubs = {n for n in stubbed() if not n.startswith("_") or n == "__version__"}
    assert public == stubs
    assert public <= set(tagflow.__all__)
    assert all(hasattr(tagflow, n) for n in tagflow.__all__)


def test_every_stubbed_member_exists():
    for name, members in stubbed().items():
        if members is None or name.startswith("_"):
            continue
        cls = getattr(_core, name)
        missing = {m for m in members if not hasattr(cls, m)}
        assert not missing, f"{name}: {missing}"
        public = {m for m in vars(cls) if not m.startswith("_")}
        assert public <= members, f"{name} has members the stubs lack: {public - members}"
