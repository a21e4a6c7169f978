"""The house rules of the redesign that a reader relies on (issue 11)."""

import ast
import re
from pathlib import Path

import sklearn_relrep

PACKAGE = Path(sklearn_relrep.__file__).parent


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_private_scikit_learn_imports_live_in_compat_only():
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            private = [
                n
                for n in names
                if n.split(".")[0] == "sklearn"
                and any(part.startswith("_") for part in n.split(".")[1:])
            ]
            if private and path.name != "_compat.py":
                found.append(f"{path.relative_to(PACKAGE)}: {private}")
    assert found == []


def test_persistence_reads_estimators_through_the_state_protocol_only():
    """No private attribute of an estimator or its net is touched by persistence."""
    forbidden = re.compile(
        r"\.(net_|module_|_y_is_1d|_initialize_net|_initialize_callbacks|"
        r"_initialize_module|__dict__)\b"
    )
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for path in (PACKAGE / "_persistence").glob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert hits == []
    used = {
        match
        for path in (PACKAGE / "_persistence").glob("*.py")
        for match in re.findall(r"\.(_get_state|_set_state)\(", path.read_text())
    }
    assert used == {"_get_state", "_set_state"}
