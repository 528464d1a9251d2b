"""Tables for docs/mutation.md from a cosmic-ray session run with the killer.

``python -m mutation report [SESSION]`` prints markdown and writes
``mutation/.work/report.md`` and ``mutation/.work/summary.json``.

Each mutant ends in one class:

* ``killed``: the killer caught it (a property of the catalogue, or a test of
  the theorem tests, ``tests/test_reference*.py``, for oracle/data code); ``timeout`` and ``crashed``
  also count as killed, as in every mutation tool, and are listed apart;
* ``equivalent``: skipped by the static annotation rule (``mutation/equivalent.py``),
  or a survivor that ``mutation/verdicts.py`` explains;
* ``survived``: a survivor nobody explained (a gap: close it or explain it);
* ``error``: the killer failed (must be zero), ``pending``: not run yet.

Score = killed / (total - equivalent), per category (contract code graded by the
catalogue; oracle/data code checked by the lesson's theorems) and overall.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutation import paths
from mutation.verdicts import EQUIVALENT, GAPS

KILLED = ("killed", "timeout", "crashed")


def _answer(output: str | None) -> dict:
    for line in reversed((output or "").strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "outcome" in value:
            return value
    return {}


def _mutated_line(diff: str | None) -> str:
    for line in (diff or "").splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def short_operator(name: str) -> str:
    return name.removeprefix("core/")


def rows(session: Path) -> list[dict]:
    db = sqlite3.connect(str(session))
    query = """
        select s.job_id, s.module_path, s.operator_name, s.occurrence, s.start_pos_row, s.start_pos_col,
               s.definition_name, r.worker_outcome, r.test_outcome, r.output, r.diff
        from mutation_specs s left join work_results r on r.job_id = s.job_id
        order by s.module_path, s.start_pos_row, s.start_pos_col, s.operator_name"""
    found = []
    for job, module, operator, occurrence, row, col, definition, worker, test, output, diff in db.execute(query):
        file = Path(module).name
        worker, test = (worker or None) and worker.lower(), (test or None) and test.lower()
        answer = _answer(output)
        entry = {"job": job, "file": file, "line": row, "col": col, "operator": short_operator(operator),
                 "occurrence": occurrence, "definition": definition, "mutant": _mutated_line(diff),
                 "answer": answer, "cosmic_ray": test or worker}
        key = (file, entry["operator"], occurrence)
        if worker == "skipped":
            entry.update(status="equivalent", reason=output or "skipped", how="static")
        elif worker is None:
            entry.update(status="pending")
        elif not answer:
            entry.update(status="error", reason=f"no killer answer: {(output or '')[-200:]}")
        else:
            outcome = answer["outcome"]
            if outcome in KILLED:
                entry.update(status="killed", how=outcome)
            elif outcome == "survived":
                verdict, gap = EQUIVALENT.get(key), GAPS.get(key)
                if verdict is not None and verdict[0] == entry["mutant"]:
                    entry.update(status="equivalent", reason=verdict[1], how="argued")
                elif gap is not None and gap[0] == entry["mutant"]:
                    entry.update(status="survived", reason=f"open: {gap[1]}")
                else:
                    stale = " (mutation/verdicts.py has an entry for another mutated line: stale)" if verdict or gap else ""
                    entry.update(status="survived", reason="unexplained" + stale)
            else:
                entry.update(status="error", reason=f"{answer.get('verdict')}: {answer.get('detail', '')[:200]}")
        entry["category"] = answer.get("category") or _category_of(file, definition)
        found.append(entry)
    return found


def _category_of(file: str, definition: str | None) -> str:
    """For mutants the killer never saw (skipped, pending): the same static rule as the killer's."""
    from mutation.deps import Package

    package = _category_of.package = getattr(_category_of, "package", None) or Package(paths.SOURCE)
    module = file.removesuffix(".py")
    name = (definition or "").split(".")[0]
    node = package.resolve(module, name) if name else None
    if node is None:
        return "contract" if module in ("activations", "gates", "collapse", "models", "params") else "oracle"
    return "contract" if package.affected_contract_names({node}) else "oracle"


def tally(entries: list[dict]) -> dict:
    counts = Counter(e["status"] for e in entries)
    hows = Counter(e.get("how") for e in entries if e["status"] in ("killed", "equivalent"))
    total = len(entries)
    equivalent = counts["equivalent"]
    killed = counts["killed"]
    judged = total - equivalent - counts["pending"]
    return {
        "total": total,
        "killed": killed,
        "of_which_timeout": hows["timeout"],
        "of_which_crashed": hows["crashed"],
        "survived": counts["survived"],
        "equivalent": equivalent,
        "equivalent_static": hows["static"],
        "equivalent_argued": hows["argued"],
        "error": counts["error"],
        "pending": counts["pending"],
        "score": round(killed / judged, 4) if judged else None,
    }


def _table(header: list[str], lines: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in line) + " |" for line in lines]
    return "\n".join(out)


def render(entries: list[dict], wall: str | None = None) -> tuple[str, dict]:
    summary = {"all": tally(entries)}
    for category in ("contract", "oracle"):
        summary[category] = tally([e for e in entries if e["category"] == category])
    by_file = defaultdict(list)
    for e in entries:
        by_file[e["file"]].append(e)
    summary["files"] = {f: tally(es) for f, es in sorted(by_file.items())}
    killers = Counter(e["answer"].get("by") for e in entries if e["status"] == "killed" and e["answer"].get("by"))
    summary["killers"] = dict(killers.most_common())

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    head = ["", "total", "killed", "(timeout)", "survived", "equivalent (static + argued)", "killer errors", "pending", "score"]

    def line(name, t):
        return [name, t["total"], t["killed"], t["of_which_timeout"], t["survived"],
                f"{t['equivalent']} ({t['equivalent_static']} + {t['equivalent_argued']})", t["error"], t["pending"], pct(t["score"])]

    parts = ["## Summary", ""]
    if wall:
        parts += [f"Wall time: {wall}", ""]
    parts.append(_table(head, [line("contract code (catalogue)", summary["contract"]),
                                line("oracle/data code (theorem tests)", summary["oracle"]),
                                line("**all**", summary["all"])]))
    parts += ["", "## Per file", "", _table(head, [line(f, t) for f, t in summary["files"].items()])]
    survivors = [e for e in entries if e["status"] in ("survived", "equivalent") and e.get("how") != "static"]
    parts += ["", "## Survivors", "", _table(
        ["file:line", "operator", "mutated line", "category", "verdict"],
        [[f"{e['file']}:{e['line']}", e["operator"], f"`{e['mutant']}`", e["category"],
          ("equivalent, " if e["status"] == "equivalent" else "**gap**, ") + e["reason"]] for e in survivors])]
    odd = [e for e in entries if e["status"] in ("error", "pending") or e.get("how") in ("timeout", "crashed")]
    if odd:
        parts += ["", "## Timeouts, crashes, errors, pending", "", _table(
            ["file:line", "operator", "mutated line", "status", "detail"],
            [[f"{e['file']}:{e['line']}", e["operator"], f"`{e['mutant']}`", e.get("how") or e["status"],
              e.get("reason") or e["answer"].get("detail", "")[:120]] for e in odd])]
    static = Counter(e["file"] for e in entries if e.get("how") == "static")
    parts += ["", "## Equivalent by the static annotation rule", "",
              ", ".join(f"{f}: {n}" for f, n in sorted(static.items())) or "none"]
    parts += ["", "## What killed the mutants", "", _table(["killer", "mutants"], [[k, n] for k, n in killers.most_common()])]
    return "\n".join(parts) + "\n", summary


def main(argv: list[str]) -> int:
    session = Path(argv[0]) if argv and not argv[0].startswith("--") else paths.SESSION
    wall = None
    if "--wall" in argv:
        wall = argv[argv.index("--wall") + 1]
    entries = rows(session)
    text, summary = render(entries, wall)
    paths.REPORT.write_text(text)
    paths.SUMMARY.write_text(json.dumps({"summary": summary, "mutants": entries}, indent=1, default=str))
    print(text)
    return 0 if summary["all"]["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
