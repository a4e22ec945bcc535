"""The public surface: what `import rag_papers` gives, and what it costs."""

from __future__ import annotations

import json
import subprocess
import sys

import rag_papers

EXPECTED = {
    "Answer",
    "Assistant",
    "CANNOT_ANSWER",
    "Citation",
    "ConfigError",
    "EmbeddingMismatchError",
    "Filters",
    "IndexNotFoundError",
    "IngestSummary",
    "InputError",
    "LLMError",
    "Paper",
    "QuestionError",
    "RagPapersError",
    "RetrievedPaper",
    "Retriever",
    "Settings",
    "StoreDamagedError",
    "aanswer",
    "answer",
    "ingest",
    "stream_answer",
}


# Public on main when the package was split into subpackages (a1a1876): never lose one.
PUBLIC_ON_MAIN = frozenset(
    [
        "CANNOT_ANSWER",
        "Answer",
        "Assistant",
        "Citation",
        "ConfigError",
        "EmbeddingMismatchError",
        "Filters",
        "IndexNotFoundError",
        "IngestSummary",
        "InputError",
        "LLMError",
        "Paper",
        "QuestionError",
        "RagPapersError",
        "RetrievedPaper",
        "Retriever",
        "Settings",
        "aanswer",
        "answer",
        "ingest",
        "stream_answer",
    ]
)


def run_python(code: str) -> str:
    """Run code in a fresh interpreter (import order matters here) and return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_documented_imports_work() -> None:
    out = run_python(
        "from rag_papers import answer, ingest, Settings, Answer, Citation\n"
        "import inspect\n"
        "print(inspect.isfunction(answer), inspect.isfunction(ingest), isinstance(Settings(), Settings),"
        " Answer.__name__, Citation.__name__)\n"
    )
    assert out.split() == ["True", "True", "True", "Answer", "Citation"]


def test_public_functions_stay_functions_after_their_modules_are_imported() -> None:
    """`answer` and `ingest` share their names with submodules: importing those (as chat.py,
    the UI or a user's `import rag_papers.index.ingest` does) must not replace the functions."""
    out = run_python(
        "import inspect\n"
        "from rag_papers import Assistant  # loads rag_papers.qa.pipeline on the way\n"
        "import rag_papers.index.ingest\n"
        "from rag_papers import answer, ingest\n"
        "print(inspect.isfunction(answer), inspect.isfunction(ingest))\n"
    )
    assert out.split() == ["True", "True"]


def test_all_is_exactly_the_public_api_and_every_name_resolves() -> None:
    assert set(rag_papers.__all__) == EXPECTED
    assert len(rag_papers.__all__) == len(EXPECTED)  # no duplicates
    out = run_python(
        "import inspect, json, rag_papers\n"
        "kinds = {}\n"
        "for name in rag_papers.__all__:\n"
        "    obj = getattr(rag_papers, name)\n"
        "    kinds[name] = [type(obj).__name__, getattr(obj, '__module__', None) or '']\n"
        "print(json.dumps(kinds))\n"
    )
    kinds = json.loads(out)
    assert set(kinds) == EXPECTED
    for name, (kind, module) in kinds.items():
        if name == "CANNOT_ANSWER":
            assert kind == "str"
        elif name[0].isupper():
            assert kind in ("type", "ModelMetaclass", "ABCMeta"), (name, kind)
            assert module.startswith("rag_papers"), (name, module)
        else:
            assert kind == "function" and module.startswith("rag_papers"), (name, kind, module)
    errors = [getattr(rag_papers, n) for n in EXPECTED if n.endswith("Error")]
    assert all(issubclass(e, rag_papers.RagPapersError) for e in errors)


def test_exported_members() -> None:
    """In the manner of httpx's tests/test_exported_members.py: `__all__` is exactly the public
    members of the package (nothing public hides outside it, nothing in it is missing), every
    member is defined in a submodule and re-exported as that very object, and nothing that was
    public when the package was split into subpackages has been lost."""
    out = run_python(
        "import importlib, inspect, json, rag_papers\n"
        "members = sorted(\n"
        "    n for n, v in vars(rag_papers).items()\n"
        "    if not n.startswith('_') and not inspect.ismodule(v)\n"
        "    and (isinstance(v, str) or str(getattr(v, '__module__', '')).startswith('rag_papers'))\n"
        ")\n"
        "lazy = sorted(rag_papers._LAZY)\n"
        "homes = {}\n"
        "for name in rag_papers.__all__:\n"
        "    obj = getattr(rag_papers, name)\n"
        "    if isinstance(obj, str):\n"
        "        continue\n"
        "    home = importlib.import_module(obj.__module__)\n"
        "    homes[name] = [obj.__module__, getattr(home, name, None) is obj]\n"
        "print(json.dumps({'members': members, 'lazy': lazy, 'homes': homes}))\n"
    )
    got = json.loads(out)
    assert set(got["members"]) | set(got["lazy"]) == set(rag_papers.__all__)
    assert set(rag_papers.__all__) >= PUBLIC_ON_MAIN, "a public name was removed"
    for name, (module, same) in got["homes"].items():
        assert module != "rag_papers" and module.startswith("rag_papers."), (name, module)
        assert same, f"rag_papers.{name} is not the object {module}.{name}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        rag_papers.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_light() -> None:
    """`import rag_papers` (and Settings) must not pull in torch, chromadb or llama-index."""
    code = (
        "import json, sys\n"
        "import rag_papers\n"
        "from rag_papers import Settings, Answer, Citation\n"
        "Settings()\n"
        "heavy = ['torch', 'chromadb', 'llama_index', 'transformers', 'sentence_transformers', 'gradio', 'openai']\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
