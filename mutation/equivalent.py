"""A cosmic-ray filter: mutants that are equivalent by construction are skipped, with the proof.

Rule (checked per mutant, not assumed): the mutated module and the original are
the same program once annotations are erased. Every module of ``reference/``
starts with ``from __future__ import annotations`` (PEP 563), so annotations of
function parameters and returns, and of assignments outside class bodies, are
stored as strings and never evaluated; nothing in the package or the grader reads
them back (``typing.get_type_hints`` is not used). Class-body annotations are kept
(a ``NamedTuple`` builds its fields from them). ``str | None`` -> ``str & None``
in a signature is such a mutant.

The skipped mutants are marked in the session (``worker_outcome = skipped``) with
the reason as their output; the report counts them as equivalent.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REASON = "equivalent (static): only an annotation changes, and annotations are never evaluated (from __future__ import annotations)"


class _EraseAnnotations(ast.NodeTransformer):
    def __init__(self) -> None:
        self.class_depth = 0

    def visit_ClassDef(self, node):
        self.class_depth += 1
        self.generic_visit(node)
        self.class_depth -= 1
        return node

    def _function(self, node):
        node.returns = None
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                arg.annotation = None
        depth, self.class_depth = self.class_depth, 0  # annotations inside a method body are plain statements again
        self.generic_visit(node)
        self.class_depth = depth
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_AnnAssign(self, node):
        if self.class_depth == 0:
            node.annotation = ast.Constant(None)
        self.generic_visit(node)
        return node


def has_future_annotations(tree: ast.Module) -> bool:
    return any(isinstance(s, ast.ImportFrom) and s.module == "__future__" and any(a.name == "annotations" for a in s.names)
               for s in tree.body)


def erased(source: str) -> str | None:
    tree = ast.parse(source)
    if not has_future_annotations(tree):
        return None
    return ast.dump(_EraseAnnotations().visit(tree))


def equivalent_by_annotations(original: str, mutated: str) -> bool:
    """True when the two sources differ only in annotations that are never evaluated."""
    try:
        before, after = erased(original), erased(mutated)
    except SyntaxError:
        return False
    return before is not None and before == after and original != mutated


def filter_session(session: Path) -> tuple[int, int]:
    """Mark the annotation-only mutants of ``session`` as skipped; returns (skipped, total)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    sources: dict[Path, str] = {}
    skipped = total = 0
    with use_db(str(session)) as db:
        for item in db.work_items:
            total += 1
            if len(item.mutations) != 1:
                continue
            (spec,) = item.mutations
            path = Path(spec.module_path)
            original = sources.setdefault(path, path.read_text())
            operator = cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))
            mutated = mutate_code(original, operator, spec.occurrence)
            if mutated is not None and equivalent_by_annotations(original, mutated):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=REASON))
                skipped += 1
    return skipped, total


if __name__ == "__main__":
    print(filter_session(Path(sys.argv[1])))
