"""Which part of the reference a mutant touches, and who can notice.

A static name graph over the package's top-level definitions (functions, classes,
module-level assignments, ``from .x import y``), built from the source with ``ast``:

* ``changed_definitions`` finds the top-level statements a mutant changed, by
  comparing the mutated files with the pristine ones;
* ``affected_contract_names`` says which contract names (``reference.__all__``)
  reach a changed definition: contract code, which the catalogue grades; a
  definition no contract name reaches (data, experiments, helpers only the grader
  uses) is oracle/data code, which only the theorem tests (``tests/test_reference*.py``) can kill;
* ``affected_names`` (every top-level name that reaches it) picks the tests of
  theorem tests to run first.

Annotations are not references: the package uses ``from __future__ import
annotations``, so they are never evaluated.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

Node = tuple[str, str]  # (module, top-level name)


def _annotation_free_names(node: ast.AST) -> set[str]:
    """Names (and attribute names, for ``reference.make_seq_net``) used by ``node``, annotations left out."""
    found: set[str] = set()

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.arg):
            return  # only its annotation could hold names
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in n.decorator_list:
                visit(d)
            for d in [*n.args.defaults, *[d for d in n.args.kw_defaults if d is not None]]:
                visit(d)
            for s in n.body:
                visit(s)
            return
        if isinstance(n, ast.AnnAssign):
            visit(n.target)
            if n.value is not None:
                visit(n.value)
            return
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


@dataclass
class Package:
    """The top-level definitions of a package directory and the references between them."""

    root: Path
    name: str = "reference"

    def __post_init__(self) -> None:
        self.trees: dict[str, ast.Module] = {}
        self.edges: dict[Node, set[Node]] = {}
        self.statements: dict[str, list[tuple[int, int, list[str]]]] = {}
        for path in sorted(self.root.glob("*.py")):
            module = path.stem
            self.trees[module] = ast.parse(path.read_text())
        self.imports = {m: self._imports(m) for m in self.trees}
        for module, tree in self.trees.items():
            self.statements[module] = [(s.lineno, s.end_lineno or s.lineno, _defined_names(s)) for s in tree.body]
        for module, tree in self.trees.items():
            for stmt in tree.body:
                uses = _annotation_free_names(stmt)
                for name in _defined_names(stmt):
                    self.edges[(module, name)] = {self.resolve(module, u) for u in uses} - {None, (module, name)}

    def _imports(self, module: str) -> dict[str, Node]:
        table: dict[str, Node] = {}
        for stmt in self.trees[module].body:
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module:
                for alias in stmt.names:
                    table[alias.asname or alias.name] = (stmt.module, alias.name)
        return table

    def resolve(self, module: str, name: str) -> Node | None:
        """The definition ``name`` means inside ``module`` (following relative imports), if it is ours."""
        seen = set()
        while (module, name) not in seen:
            seen.add((module, name))
            if any(name in names for _, _, names in self.statements.get(module, [])):
                return (module, name)
            target = self.imports.get(module, {}).get(name)
            if target is None:
                return None
            module, name = target
        return None

    def contract(self) -> list[str]:
        tree = self.trees["__init__"]
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
                return [ast.literal_eval(e) for e in stmt.value.elts]
        return []

    def closure(self, start: Node) -> set[Node]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(self.edges.get(node, ()))
        return seen

    def definitions_at(self, module: str, lines: set[int]) -> list[str]:
        """The top-level names whose statements cover any of ``lines`` ("<module>" for other statements)."""
        names: list[str] = []
        for start, end, defined in self.statements[module]:
            if any(start <= line <= end for line in lines):
                names.extend(defined or ["<module>"])
        return names or ["<module>"]

    def reaching(self, targets: set[Node]) -> set[Node]:
        """Every definition whose closure contains one of ``targets``."""
        return {node for node in self.edges if self.closure(node) & targets}

    def affected_contract_names(self, targets: set[Node]) -> list[str]:
        return [name for name in self.contract() if (r := self.resolve("__init__", name)) and self.closure(r) & targets]

    def affected_names(self, targets: set[Node]) -> set[str]:
        """Top-level names (in any module, or exported by the package) that reach ``targets``."""
        names = {name for _, name in self.reaching(targets)} | {name for _, name in targets}
        return names | set(self.affected_contract_names(targets))


def changed_lines(old: str, new: str) -> set[int]:
    """1-based line numbers of ``old`` that differ in ``new`` (cosmic-ray keeps the line structure)."""
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


@dataclass(frozen=True)
class Change:
    """What a mutant changed, seen from the pristine package."""

    files: tuple[str, ...]                  # module stems, e.g. ("gates",)
    definitions: tuple[Node, ...]            # changed top-level definitions
    contract: tuple[str, ...]                # contract names that reach them
    names: tuple[str, ...]                   # every top-level name that reaches them

    @property
    def category(self) -> str:
        if not self.files:
            return "unmutated"
        return "contract" if self.contract else "oracle"


def change_between(pristine: Package, mutated_root: Path) -> Change:
    files, definitions = [], []
    for module in pristine.trees:
        old = (pristine.root / f"{module}.py").read_text()
        path = mutated_root / f"{module}.py"
        new = path.read_text() if path.exists() else ""
        if old == new:
            continue
        files.append(module)
        definitions += [(module, name) for name in pristine.definitions_at(module, changed_lines(old, new))]
    targets = set(definitions)
    contract = pristine.affected_contract_names(targets) if targets else []
    names = sorted(pristine.affected_names(targets)) if targets else []
    return Change(tuple(files), tuple(dict.fromkeys(definitions)), tuple(contract), tuple(names))


# -- the theorem tests: which tests look at a name --------------------------------------------

def test_functions_using(test_file: Path, names: set[str]) -> list[str]:
    """Test functions of ``test_file`` that use one of ``names``, directly, through the file's own
    helpers and module-level tables, or through a fixture they request."""
    tree = ast.parse(test_file.read_text())
    uses: dict[str, set[str]] = {}
    params: dict[str, list[str]] = {}
    for stmt in tree.body:
        for name in _defined_names(stmt):
            uses[name] = _annotation_free_names(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params[name] = [a.arg for a in stmt.args.args]
    hit: dict[str, bool] = {}

    def touches(name: str, stack: frozenset = frozenset()) -> bool:
        if name in hit:
            return hit[name]
        if name in stack:
            return False
        inner = stack | {name}
        result = bool(uses[name] & names) or any(
            touches(u, inner) for u in (uses[name] | set(params.get(name, ()))) if u in uses and u != name)
        hit[name] = result
        return result

    return [n for n in uses if n.startswith("test_") and n in params and touches(n)]


def test_functions(test_file: Path) -> list[str]:
    tree = ast.parse(test_file.read_text())
    return [s.name for s in tree.body if isinstance(s, ast.FunctionDef) and s.name.startswith("test_")]
