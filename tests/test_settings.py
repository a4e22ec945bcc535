"""Settings: where values come from, what stays secret, and .env.example kept true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from rag_papers.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
VAR_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
KEY = "sk-proj-THIS-IS-A-SECRET-123"


def example_vars() -> dict[str, str]:
    """VARIABLE -> value shown, for every (commented) assignment in .env.example."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = VAR_LINE.match(line.strip())
        if m:
            assert m[1] not in out, f"{m[1]} listed twice"
            out[m[1]] = m[2]
    return out


def field_for(variable: str) -> str | None:
    """The Settings field an environment variable sets, or None if it sets none."""
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = list(getattr(alias, "choices", [])) if alias else [f"RAG_PAPERS_{name.upper()}"]
        if variable in names:
            return name
    return None


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_PAPERS_K", "7")
    monkeypatch.setenv("RAG_PAPERS_RETRIEVER", "bm25")
    monkeypatch.setenv("RAG_PAPERS_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("RAG_PAPERS_CHROMA_HOST", "db.internal")
    s = Settings()
    assert (s.k, s.retriever, s.chroma_host) == (7, "bm25", "db.internal")
    assert s.store_dir == tmp_path / "h" / "chroma"
    assert Settings(k=3).k == 3  # keyword arguments win over the environment
    monkeypatch.setenv("RAG_PAPERS_K", "0")
    with pytest.raises(ValidationError, match="k"):
        Settings()


def test_dotenv_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        f"RAG_PAPERS_K=9\nRAG_PAPERS_EMBED_BATCH_SIZE=16\nOPENAI_API_KEY={KEY}\nUNRELATED=1\n"
    )
    s = Settings()
    assert (s.k, s.embed_batch_size) == (9, 16)
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == KEY
    monkeypatch.setenv("RAG_PAPERS_K", "4")
    assert Settings().k == 4


def test_openai_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    s = Settings()
    assert isinstance(s.openai_api_key, SecretStr)
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert KEY not in shown
    monkeypatch.delenv("OPENAI_API_KEY")
    assert s.settings_hash() == Settings().settings_hash()  # the key never feeds the hash
    assert KEY not in s.settings_hash()
    assert Settings(k=6).settings_hash() != Settings().settings_hash()  # answers-changing fields do
    monkeypatch.setenv("RAG_PAPERS_OPENAI_API_KEY", KEY)
    assert Settings().openai_api_key.get_secret_value() == KEY  # type: ignore[union-attr]


def test_resolved_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().resolved_mode() == "extractive"
    assert Settings(mode="openai").resolved_mode() == "llm"  # the old name still works
    assert Settings(mode="llm").resolved_mode() == "llm"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert Settings().resolved_mode() == "llm"
    assert Settings(mode="extractive").resolved_mode() == "extractive"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert Settings().resolved_mode() == "llm"


def test_env_example_lists_every_setting_with_its_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    listed = example_vars()
    unknown = [v for v in listed if field_for(v) is None]
    assert not unknown, f".env.example lists variables Settings does not read: {unknown}"
    missing = set(Settings.model_fields) - {field_for(v) for v in listed}
    assert not missing, f"Settings fields missing from .env.example: {sorted(missing)}"
    for name, info in Settings.model_fields.items():
        assert info.description or info.validation_alias, f"{name} has no description"

    # The defaults shown are the real ones: uncomment every line that has a value and load it.
    monkeypatch.chdir(tmp_path)
    shown = {v: val for v, val in listed.items() if val}
    (tmp_path / ".env").write_text("".join(f"{v}={val}\n" for v, val in shown.items()))
    from_file = Settings().model_dump()
    defaults = Settings(_env_file=None).model_dump()
    for variable, value in shown.items():
        name = field_for(variable)
        got = from_file[name]
        if name == "home":
            got = Path(got).expanduser()
        assert got == defaults[name], f"{variable}: .env.example shows {value!r}"
