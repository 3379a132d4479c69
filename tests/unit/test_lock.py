"""What ships in the Lambda zip is locked: every package of requirements.txt pinned with `==`
and its hashes, the SDK left to the runtime, the tools on the same versions as the zip."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from infrastructure.package import lock_problems

ROOT = Path(__file__).resolve().parents[2]


def _requirements(path: Path) -> dict[str, str]:
    """Each requirement's logical line (backslash continuations joined), by package name."""
    logical = re.sub(r"\\\n", " ", path.read_text())
    found = {}
    for line in logical.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name = re.split(r"[=<>~!; \[]", line, maxsplit=1)[0]
            found[re.sub(r"[-_.]+", "-", name).lower()] = line
    return found


def _versions(path: Path) -> dict[str, str]:
    return {name: line.split("==", 1)[1].split()[0]
            for name, line in _requirements(path).items()}


def test_every_package_in_the_zip_is_pinned_with_its_hashes() -> None:
    lines = _requirements(ROOT / "requirements.txt")
    assert len(lines) >= 10  # the transitive closure, not only the direct dependencies
    for name, line in lines.items():
        assert re.match(r"^\S+==\S+ ", line), f"{name} is not pinned with =="
        assert "--hash=sha256:" in line, f"{name} has no hash"
    assert lock_problems(ROOT / "requirements.txt") == []


def test_the_tools_install_everything_locked_and_agree_with_the_zip() -> None:
    assert lock_problems(ROOT / "requirements-dev.txt") == []
    runtime, dev = _versions(ROOT / "requirements.txt"), _versions(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_each_direct_dependency_is_in_the_lock_at_its_version() -> None:
    direct = _versions(ROOT / "requirements.in")
    assert direct and {name: _versions(ROOT / "requirements.txt").get(name)
                       for name in direct} == direct


def test_no_sdk_and_no_tracer_extra_in_the_zip() -> None:
    # The Lambda runtime provides boto3 and botocore (requirements.in says why); the X-Ray
    # SDK, the tracer extra, brought a second botocore.
    shipped = _requirements(ROOT / "requirements.txt")
    assert not {"boto3", "botocore", "aws-xray-sdk", "wrapt"} & set(shipped)
    assert "tracer" not in _requirements(ROOT / "requirements.in")["aws-lambda-powertools"]
    assert "botocore" in (ROOT / "requirements.in").read_text()  # the reason is written


@pytest.mark.parametrize(("line", "problem"), [
    ("requests==2.34.2\n", "requests==2.34.2: not pinned"),
    ("requests>=2 \\\n    --hash=sha256:" + "ab" * 32 + "\n", "requests>=2: not pinned"),
    ("-r other.txt\n", "-r: a lock lists packages"),
    ("--index-url https://example.invalid/simple\n", "--index-url: a lock lists packages"),
])
def test_a_file_that_is_not_a_lock_is_refused(tmp_path: Path, line: str, problem: str) -> None:
    good = "jinja2==3.1.6 \\\n    --hash=sha256:" + "cd" * 32 + "\n    # via -r requirements.in\n"
    lock = tmp_path / "requirements.txt"
    lock.write_text(good)
    assert lock_problems(lock) == []
    lock.write_text(good + line)
    assert [p[:len(problem)] for p in lock_problems(lock)] == [problem]


def test_the_shipped_code_imports_nothing_the_zip_lacks() -> None:
    """app.py and chalicelib import only the standard library, the lock's packages, and
    what the Lambda runtime (boto3, botocore) or `chalice package` (chalice) provides."""
    provided = set(_requirements(ROOT / "requirements.txt")) | {"boto3", "botocore", "chalice"}
    distributions = importlib.metadata.packages_distributions()
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                # Powertools' Tracer needs the X-Ray SDK, the extra the zip leaves out.
                assert "Tracer" not in {a.name for a in node.names}, f"{path}: Tracer"
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "chalicelib" or top.startswith(
                        "mypy_boto3"):  # mypy_boto3: type checking only
                    continue
                names = {re.sub(r"[-_.]+", "-", d).lower()
                         for d in distributions.get(top, [])}
                assert names & provided, f"{path.relative_to(ROOT)} imports {module}"
