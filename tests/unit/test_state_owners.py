"""One writer per store: MongoDB writes and index builds only in each collection's owner
(engage.owners), Redis key templates only in engage.keys, the README's table in step."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engage import keys, owners

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engage", "signaling", "agent_console", "web_widget", "analytics")
WRITES = frozenset({"insert_one", "insert_many", "update_one", "update_many", "delete_one",
                    "delete_many", "replace_one", "bulk_write", "find_one_and_update",
                    "find_one_and_replace", "find_one_and_delete", "create_index",
                    "create_indexes", "drop", "drop_index", "rename"})
DB_NAMES = frozenset({"db", "_db", "database"})


@dataclass(frozen=True)
class Write:
    module: str
    line: int
    method: str
    collections: frozenset[str] | None  # None: not a collection this module names


DYNAMIC = frozenset({"?"})  # a collection chosen at run time


def modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name, ast.parse(path.read_text(), str(path))


def own_constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=False))
            for name, value in pairs:
                if isinstance(name, ast.Name) and isinstance(value, ast.Constant) \
                        and isinstance(value.value, str):
                    out[name.id] = value.value
    return out


def constants(tree: ast.Module, everyone: dict[str, dict[str, str]]) -> dict[str, str]:
    """A module's string constants, with those it imports from our other modules."""
    out = own_constants(tree)
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        for alias in node.names:
            local = alias.asname or alias.name
            value = everyone.get(node.module, {}).get(alias.name)
            if value is not None:
                out[local] = value
            for name, value in everyone.get(f"{node.module}.{alias.name}", {}).items():
                out[f"{local}.{name}"] = value  # ``from engage.desk import knowledge``
    return out


class Scan(ast.NodeVisitor):
    """Collections named in one module (``db.x``, ``db["x"]``, ``db[CONST]``, also through
    ``self._col = db[...]``, locals and loops over names), and every write call with the
    collections its receiver may be."""

    def __init__(self, module: str, consts: dict[str, str]) -> None:
        self.module = module
        self.consts = consts
        self.named: set[str] = set()
        self.attrs: dict[str, frozenset[str]] = {}
        self.locals: dict[str, frozenset[str]] = {}
        self.writes: list[Write] = []

    def name_of(self, node: ast.expr) -> frozenset[str]:
        """The collection names an expression used as ``db[...]`` may hold."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return frozenset({node.value})
        if isinstance(node, ast.Name) and node.id in self.consts:
            return frozenset({self.consts[node.id]})
        if isinstance(node, ast.Name) and node.id in self.locals:
            return self.locals[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and f"{node.value.id}.{node.attr}" in self.consts:
            return frozenset({self.consts[f"{node.value.id}.{node.attr}"]})
        return DYNAMIC

    def collection(self, node: ast.expr) -> frozenset[str] | None:
        if isinstance(node, ast.Attribute) and _is_db(node.value) \
                and not node.attr.startswith("_") and node.attr not in NOT_COLLECTIONS:
            return frozenset({node.attr})
        if isinstance(node, ast.Subscript) and _is_db(node.value):
            return self.name_of(node.slice)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "self":
            return self.attrs.get(node.attr)
        if isinstance(node, ast.Name):
            return self.locals.get(node.id)
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        found = self.collection(node.value)
        if found is not None:
            for target in node.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id == "self":
                    self.attrs[target.attr] = found
                elif isinstance(target, ast.Name):
                    self.locals[target.id] = found
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        """``for name in (A, B)``: name is either; ``for col, key in ((A, k), ...)``: col is."""
        if isinstance(node.iter, ast.Tuple | ast.List):
            items = node.iter.elts
            if isinstance(node.target, ast.Name):
                self._loop_var(node.target.id, items)
            elif isinstance(node.target, ast.Tuple) and node.target.elts \
                    and isinstance(node.target.elts[0], ast.Name):
                firsts = [i.elts[0] for i in items if isinstance(i, ast.Tuple) and i.elts]
                self._loop_var(node.target.elts[0].id, firsts)
        self.generic_visit(node)

    def _loop_var(self, name: str, items: list[ast.expr]) -> None:
        names: set[str] = set()
        collections: set[str] = set()
        for item in items:
            found = self.collection(item)
            if found is not None:
                collections |= found
            else:
                names |= self.name_of(item)
        self.locals[name] = frozenset(collections or names)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_db(node.value):
            found = self.collection(node)
            if found is not None:
                self.named |= found
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        found = self.collection(node)
        if found is not None and _is_db(node.value):
            self.named |= found
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            self.writes.append(Write(self.module, node.lineno, node.func.attr,
                                     self.collection(node.func.value)))
        self.generic_visit(node)


NOT_COLLECTIONS = frozenset({"command", "client", "name", "list_collection_names",
                             "drop_collection", "get_collection", "create_collection",
                             "aggregate", "with_options", "codec_options"})


def _is_db(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in DB_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in DB_NAMES
    return False


@functools.cache
def scans() -> list[Scan]:
    trees = dict(modules())
    everyone = {name: own_constants(tree) for name, tree in trees.items()}
    out = []
    for name, tree in trees.items():
        scan = Scan(name, constants(tree, everyone))
        # Twice: attributes assigned in __init__ are known when later methods are visited,
        # whatever the order of the class body.
        scan.visit(tree)
        scan.writes.clear()
        scan.named.clear()
        scan.visit(tree)
        out.append(scan)
    return out


def test_every_collection_is_written_and_indexed_by_its_owner_only() -> None:
    wrong = []
    for scan in scans():
        owned = {c for c, owner in owners.COLLECTIONS.items() if owner == scan.module}
        loaded = owners.LOADERS.get(scan.module, frozenset())
        for write in scan.writes:
            where = f"{write.module}:{write.line} {write.method}"
            # A loader writes documents; indexes are the owners' alone.
            allowed = owned if write.method.startswith("create_index") else owned | loaded
            if write.collections is None:
                # Not a collection this module names: fine while it names only its own (a
                # helper handed one of them, or none at all, like GroupInsert).
                strays = scan.named - allowed
                if strays:
                    wrong.append(f"{where} on an unknown collection in a module that also "
                                 f"names {sorted(strays)}")
            elif write.collections == DYNAMIC:
                if not loaded or write.method.startswith("create_index"):
                    wrong.append(f"{where} on a collection chosen at run time")
            else:
                for target in sorted(write.collections - allowed):
                    owner = owners.COLLECTIONS.get(target, "nobody (add it to engage.owners)")
                    wrong.append(f"{where} on {target!r}, owned by {owner}")
    assert not wrong, "\n".join(wrong)


def test_every_collection_named_in_code_has_an_owner() -> None:
    named = {c for scan in scans() for c in scan.named} - DYNAMIC
    assert named - set(owners.COLLECTIONS) == set()


def test_the_owners_exist() -> None:
    for module in {*owners.COLLECTIONS.values(), *owners.REDIS.values(), *owners.LOADERS}:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_the_scan_finds_a_stray_write() -> None:
    """The check itself: a write from a module that does not own the collection is caught."""
    tree = ast.parse("async def f(db):\n    await db.staff.insert_one({})\n")
    scan = Scan("engage.visits.service", {})
    scan.visit(tree)
    assert scan.writes == [Write("engage.visits.service", 2, "insert_one",
                                 frozenset({"staff"}))]
    assert owners.COLLECTIONS["staff"] != "engage.visits.service"


# -- Redis key templates --------------------------------------------------------------------

KEY_LITERAL = re.compile(r"""["'](engage:[a-z-]+[:'"])""")


def test_redis_key_templates_live_in_keys_only() -> None:
    """No ``"engage:..."`` key outside engage/keys.py (socket event names are not keys)."""
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "engage" / "keys.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), start=1):
                for match in KEY_LITERAL.finditer(line):
                    if not match.group(1).startswith("engage:error"):
                        found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def lua_families(text: str) -> set[str]:
    return set(re.findall(r"\bkey\('([a-z]+)'", text))


def test_the_acd_scripts_use_only_the_families_keys_names() -> None:
    text = "\n".join(p.read_text() for p in (ROOT / "engage/acd/lua").glob("*.lua"))
    used = lua_families(text) | {"ix", "agent"}  # ixkey(), agkey()
    assert used == set(keys.ACD_FAMILIES)
    assert lua_families("redis.call('DEL', key('nowhere', x))") == {"nowhere"}


def test_every_redis_family_has_one_writer() -> None:
    assert set(owners.REDIS) >= {f"{keys.ACD_PREFIX}*", f"{keys.CALL_PREFIX}*"}


# -- README ----------------------------------------------------------------------------------

def readme_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Where state lives"):]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in ("Redis", "MongoDB"):
            rows[cells[1]] = cells[2]
    return rows


def test_the_readme_table_matches_the_owners() -> None:
    rows = readme_table()
    expected = {**{k: v for k, v in owners.REDIS.items()},
                **{c: m for c, m in owners.COLLECTIONS.items()}}
    assert rows == {k: _path(v) for k, v in expected.items()}


def _path(module: str) -> str:
    return module.replace(".", "/") + ".py"
