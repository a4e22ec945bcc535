"""Named collections in one home, listing and removing papers, and exports read back by
their own libraries (bibtexparser, csv, json, markdown-it). Real papers from the library
fixtures, real model, real embedded Chroma."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from rag_papers.app.cli import main
from rag_papers.settings import Settings

LIB = Path(__file__).resolve().parent / "fixtures" / "library"
BIB = LIB / "refs.bib"
EXTRA = LIB / "hf_2024_subset.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def library_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the default collection (2024 subset) and a "refs" collection (refs.bib)."""
    from rag_papers.index.ingest import ingest

    home = tmp_path_factory.mktemp("library_home")
    ingest([EXTRA], settings=Settings(home=home), progress=False)
    ingest([BIB], settings=Settings(home=home, collection="refs"), progress=False)
    return home


@pytest.fixture
def home(library_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(library_home, copy)
    return copy


def test_collections_are_listed_and_kept_apart(
    library_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = str(library_home)
    listed = json.loads(run(capsys, "collections", "--home", h, "--json"))
    by_name = {c["name"]: c for c in listed}
    assert set(by_name) == {"papers", "refs"}
    assert (by_name["papers"]["papers"], by_name["refs"]["papers"]) == (8, 8)
    assert all(c["embedding_model"] == "local:all-MiniLM-L6-v2" for c in listed)
    assert all(c["last_ingest"] for c in listed)
    assert by_name["papers"]["current"] and not by_name["refs"]["current"]
    # the default collection keeps the paths it had before collections existed
    assert (library_home / "bm25").is_dir() and (library_home / "manifest.json").is_file()
    assert (library_home / "collections" / "refs" / "bm25").is_dir()

    refs = run(capsys, "papers", "--home", h, "--collection", "refs")
    assert "arxiv:2401.04081" in refs and "MoE-Mamba" in refs
    assert "LARP" not in refs  # a paper of the default collection only
    default = run(capsys, "papers", "--home", h)
    assert "LARP: Language-Agent Role Play" in default and "MoE-Mamba" not in default
    found = run(capsys, "papers", "--home", h, "--collection", "refs", "--search", "mamba")
    assert found.strip().splitlines() == [line for line in refs.splitlines() if "MoE-Mamba" in line]

    # RAG_PAPERS_COLLECTION selects too, for every command
    monkeypatch.setenv("RAG_PAPERS_COLLECTION", "refs")
    answer = json.loads(run(capsys, "ask", "What does MoE-Mamba combine?", "--home", h, "--json"))
    cited = {c["paper_id"] for c in answer["citations"]}
    assert "arxiv:2401.04081" in cited
    assert all(c["paper_id"] in json.dumps(refs) for c in answer["citations"])


def test_a_mistyped_collection_is_refused_by_every_reading_command_and_never_created(
    library_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = str(library_home)
    commands = [
        ["papers"],
        ["papers", "--format", "bibtex"],
        ["ask", "What does MoE-Mamba combine?"],
        ["stats"],
        ["remove", "arxiv:2401.04081"],
    ]
    for command in commands:
        assert main([*command, "--home", h, "--collection", "ref"]) == 2, command
        out, err = capsys.readouterr()
        assert out == ""
        assert "no collection 'ref'" in err and "collections here: papers, refs" in err
        assert "rag-papers ingest PATH --collection ref" in err
    monkeypatch.setenv("RAG_PAPERS_COLLECTION", "ref")  # the variable names it the same way
    assert main(["papers", "--home", h]) == 2
    assert "no collection 'ref'" in capsys.readouterr().err
    monkeypatch.delenv("RAG_PAPERS_COLLECTION")
    listed = json.loads(run(capsys, "collections", "--home", h, "--json"))
    assert {c["name"] for c in listed} == {"papers", "refs"}
    assert "MoE-Mamba" in run(capsys, "papers", "--home", h, "--collection", "refs")


def test_remove_then_reingest_adds_the_papers_back(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag_papers.index.library import paper_records
    from rag_papers.qa.retrieve import Retriever

    settings = Settings(home=home, collection="refs")
    out = json.loads(
        run(
            capsys,
            "remove",
            "2401.04081",
            "arxiv:2402.13616",
            "arxiv:1111.11111",
            "--home",
            str(home),
            "--collection",
            "refs",
            "--json",
        )
    )
    assert out == {
        "removed": ["arxiv:2401.04081", "arxiv:2402.13616"],
        "not_found": ["arxiv:1111.11111"],
    }
    ids = {p.paper_id for p in paper_records(settings)}
    assert len(ids) == 6 and "arxiv:2401.04081" not in ids
    for method in ("bm25", "dense"):  # gone from vectors and from the keyword index
        s = settings.model_copy(update={"retriever": method})
        hits = Retriever(s).retrieve("MoE-Mamba selective state space mixture of experts", k=8)
        assert "arxiv:2401.04081" not in {h.paper_id for h in hits}, method
    manifest = json.loads(settings.manifest_path.read_text())
    assert manifest["last_removal"]["papers"] == ["arxiv:2401.04081", "arxiv:2402.13616"]
    # the other collection is untouched
    assert len(paper_records(Settings(home=home))) == 8

    summary = json.loads(
        run(capsys, "ingest", str(BIB), "--home", str(home), "--collection", "refs", "--json")
    )
    assert (summary["new"], summary["unchanged"]) == (2, 6)
    assert len(paper_records(settings)) == 8


@pytest.mark.parametrize("crash", ["before_bm25", "between_papers"])
def test_an_interrupted_removal_leaves_a_usable_store(
    home: Path, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    import rag_papers.index.bm25 as bm25
    from rag_papers.index.library import paper_records, remove_papers
    from rag_papers.index.store import PaperStore
    from rag_papers.qa.retrieve import Retriever

    settings = Settings(home=home, collection="refs")
    targets = ["arxiv:2401.04081", "arxiv:2402.13616"]
    if crash == "before_bm25":

        def dies(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(bm25, "rebuild_bm25", dies)
    else:
        real = PaperStore.delete_papers
        calls: list[int] = []

        def dies_after_one(self: PaperStore, ids: list[str]) -> None:
            calls.append(1)
            if len(calls) > 1:
                raise KeyboardInterrupt
            real(self, ids)

        monkeypatch.setattr(PaperStore, "delete_papers", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        remove_papers(targets, settings)
    monkeypatch.undo()

    left = {p.paper_id for p in paper_records(settings)}
    assert "arxiv:2401.04081" not in left
    hits = Retriever(settings).retrieve("MoE-Mamba selective state space mixture of experts", k=8)
    assert hits and "arxiv:2401.04081" not in {h.paper_id for h in hits}
    assert {h.paper_id for h in hits} <= left  # the keyword index agrees with the vectors
    if crash == "between_papers":  # running the removal again finishes it
        assert "arxiv:2402.13616" in left
        again = remove_papers(targets, settings)
        assert (again.removed, again.not_found) == (["arxiv:2402.13616"], ["arxiv:2401.04081"])
    assert len(paper_records(settings)) == 6


def test_an_interrupted_remove_command_says_the_collection_is_usable_and_how_to_finish(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag_papers.index.store import PaperStore

    real = PaperStore.delete_papers
    calls: list[int] = []

    def dies_after_one(self: PaperStore, ids: list[str]) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt  # Ctrl-C between the two papers
        real(self, ids)

    monkeypatch.setattr(PaperStore, "delete_papers", dies_after_one)
    argv = ["remove", "arxiv:2401.04081", "arxiv:2402.13616", "--home", str(home)]
    assert main([*argv, "--collection", "refs"]) == 130
    err = capsys.readouterr().err
    assert "the collection stays usable" in err and "run the command again" in err
    monkeypatch.undo()
    assert main([*argv, "--collection", "refs", "--json"]) == 0  # as the message says
    assert json.loads(capsys.readouterr().out) == {
        "removed": ["arxiv:2402.13616"],
        "not_found": ["arxiv:2401.04081"],
    }
    found = run(capsys, "papers", "--home", str(home), "--collection", "refs", "--search", "a")
    assert "MoE-Mamba" not in found and "YOLOv9" not in found and "Hedgehog" in found


def test_ask_exports_markdown_and_bibtex_that_parse_back(
    library_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware
    from markdown_it import MarkdownIt

    h = str(library_home)
    question = "Which model combines state space models with mixture of experts?"
    args = ["ask", question, "--home", h, "--collection", "refs", "--mode", "extractive"]
    answer = json.loads(run(capsys, *args, "--format", "json"))
    cited = {c["number"]: c for c in answer["citations"]}
    assert cited

    md = run(capsys, *args, "--format", "markdown")
    tokens = MarkdownIt().parse(md)
    links: list[tuple[str, str]] = []
    for tok in tokens:
        children = tok.children or []
        for i, child in enumerate(children):
            if child.type == "link_open":
                text = children[i + 1].content if i + 1 < len(children) else ""
                links.append((text, str(child.attrs["href"])))
    urls = {c["url"] for c in cited.values()}
    assert {href for _, href in links} == urls  # every link resolves to a cited paper
    for number, citation in cited.items():
        assert (str(number), citation["url"]) in links  # the [n] markers in the text
        assert (citation["title"], citation["url"]) in links  # the numbered reference
        assert f"{number}. [{citation['title']}]" in md

    # each reference: title linked, first author, date, and the supporting quote below it
    quotes: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type == "blockquote_open":
            inline = next(t for t in tokens[i:] if t.type == "inline")
            quotes.append(" ".join(c.content for c in inline.children or [] if c.content))
    assert len(quotes) == len(cited)
    for citation, quote in zip(cited.values(), quotes, strict=True):
        assert " ".join(quote.split()) == " ".join(citation["quote"].split())
    papers_by_id = {
        json.loads(line)["paper_id"]: json.loads(line)
        for line in run(
            capsys, "papers", "--home", h, "--collection", "refs", "--json"
        ).splitlines()
    }
    for number, citation in cited.items():
        paper = papers_by_id[citation["paper_id"]]
        line = next(ln for ln in md.splitlines() if ln.startswith(f"{number}. ["))
        assert paper["authors"][0] in line
        assert f"({paper['published'] or paper['date_text']})" in line

    bib = run(capsys, *args, "--format", "bibtex")
    library = bibtexparser.parse_string(bib, append_middleware=[LatexDecodingMiddleware()])
    assert not library.failed_blocks
    assert [e["title"] for e in library.entries] == [c["title"] for c in cited.values()]
    assert {e["url"] for e in library.entries} == urls
    assert run(capsys, *args, "--format", "bibtex") == bib  # stable keys


def test_an_answer_citing_nothing_exports_empty_bibtex_and_says_so(
    library_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = "What is the boiling point of water on Mars?"
    args = ["ask", question, "--home", str(library_home), "--collection", "refs"]
    assert main([*args, "--mode", "extractive", "--format", "bibtex"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no paper cited: the BibTeX is empty" in err
    md = run(capsys, *args, "--mode", "extractive", "--format", "markdown")
    assert "**References**" not in md and "No indexed abstract answers this" not in md


def test_papers_export_in_three_formats_reads_back(
    library_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors

    h = str(library_home)
    base = ["papers", "--home", h, "--collection", "refs"]
    listed = json.loads("[" + ",".join(run(capsys, *base, "--json").splitlines()) + "]")
    assert len(listed) == 8
    by_id = {p["arxiv_id"]: p for p in listed}

    bib = run(capsys, *base, "--format", "bibtex")
    library = bibtexparser.parse_string(
        bib, append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors()]
    )
    assert len(library.entries) == 8 and not library.failed_blocks
    assert len({e.key for e in library.entries}) == 8
    for entry in library.entries:
        paper = by_id[entry["eprint"]]
        assert entry["title"] == paper["title"]
        assert entry["abstract"] == paper["abstract"]
        assert entry["author"] == paper["authors"]
        assert entry["doi"] == paper["doi"]

    # capitals a BibTeX style would lower-case are braced; a proceedings is @inproceedings
    written = {e.key: e for e in bibtexparser.parse_string(bib).entries}
    assert written["pioro2024moe"]["title"].startswith("{MoE-Mamba}: Efficient Selective")
    assert "{ResNet-50}" in written["shen2020meal"]["title"]
    assert "{ImageNet}" in written["shen2020meal"]["title"]
    assert written["shen2020meal"]["title"].startswith("{MEAL} {V2}: Boosting Vanilla")
    assert written["zheng2024mvd2"]["title"].startswith("{MVD}$^2$: Efficient Multiview {3D}")
    assert written["zheng2024mvd2"].entry_type == "inproceedings"
    assert written["pioro2024moe"]["month"] == "jan"  # the macro, not the string {1}
    assert "month = jan," in bib
    assert (
        written["zheng2024mvd2"]["booktitle"] == "SIGGRAPH Conference Proceedings (SIGGRAPH 2024)"
    )

    rows = list(csv.DictReader(io.StringIO(run(capsys, *base, "--format", "csv"))))
    assert {r["arxiv_id"]: r["title"] for r in rows} == {k: v["title"] for k, v in by_id.items()}

    # CSV and JSON Lines read back through rag_papers' own readers as the same papers
    from rag_papers.index.library import paper_records
    from rag_papers.readers import read_paths

    stored = {p.paper_id: p for p in paper_records(Settings(home=library_home, collection="refs"))}
    for fmt in ("csv", "jsonl"):
        path = tmp_path / f"out.{fmt}"
        path.write_text(run(capsys, *base, "--format", fmt), encoding="utf-8")
        back = read_paths([path])
        assert not back.warnings and len(back.papers) == 8
        for paper in back.papers:
            original = stored[paper.paper_id]
            assert (paper.title, paper.abstract, paper.authors, paper.doi) == (
                original.title,
                original.abstract,
                original.authors,
                original.doi,
            )
            assert (paper.published, paper.date_text) == (original.published, original.date_text)

    # a collection goes back in: the exports ingest into a new collection as the same papers
    (tmp_path / "out.bib").write_text(bib, encoding="utf-8")
    summary = json.loads(
        run(
            capsys,
            "ingest",
            str(tmp_path / "out.bib"),
            "--home",
            str(tmp_path / "other"),  # not library_home: other tests list its collections
            "--collection",
            "copy",
            "--json",
        )
    )
    assert summary["new"] == 8 and summary["skipped"] == 0
    copy = json.loads(
        "["
        + ",".join(
            run(
                capsys,
                "papers",
                "--home",
                str(tmp_path / "other"),
                "--collection",
                "copy",
                "--json",
            ).splitlines()
        )
        + "]"
    )
    assert {(p["paper_id"], p["title"], p["abstract"]) for p in copy} == {
        (p["paper_id"], p["title"], p["abstract"]) for p in listed
    }


def test_the_whole_sample_and_2024_collection_exports_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All 1,193 papers of the two real collections through `papers --format`: bibtexparser
    reads every BibTeX entry (arXiv abstracts with a half-converted \\href left unbalanced
    braces that ended the entry early: 2 of 1,193 failed to parse), and rag_papers' readers
    read each export back as the same papers. Stand-in vectors (MockEmbedding): exports
    depend on the stored metadata only."""
    import bibtexparser
    from llama_index.core.embeddings import MockEmbedding

    from rag_papers.index.ingest import ingest
    from rag_papers.index.library import paper_records
    from rag_papers.readers import read_paths, sample_corpus_dir

    hf_2024 = Path(__file__).resolve().parents[1] / "eval" / "data" / "hf_daily_papers_2024.json"
    settings = Settings(home=tmp_path / "home")
    ingest(
        [sample_corpus_dir(), hf_2024],
        settings=settings,
        progress=False,
        embed_model=MockEmbedding(embed_dim=16),
    )
    stored = {p.paper_id: p for p in paper_records(settings)}
    assert len(stored) == 1193
    base = ["papers", "--home", str(tmp_path / "home")]
    for fmt in ("bibtex", "csv", "jsonl"):
        path = tmp_path / f"all.{ {'bibtex': 'bib'}.get(fmt, fmt) }"
        path.write_text(run(capsys, *base, "--format", fmt), encoding="utf-8")
        if fmt == "bibtex":
            library = bibtexparser.parse_file(str(path))
            assert (len(library.entries), library.failed_blocks) == (1193, [])
            assert len({e.key for e in library.entries}) == 1193
        back = read_paths([path])
        assert not back.warnings
        got = {p.paper_id: p for p in back.papers}
        assert set(got) == set(stored), fmt
        for pid, paper in got.items():
            before = stored[pid]
            assert paper.authors == before.authors and paper.published == before.published
            if fmt == "bibtex":  # LaTeX reads -- as an en dash and \^{} as a circumflex
                assert paper.title in (
                    before.title,
                    before.title.replace("--", "–").replace("^", "ˆ"),
                ), pid
            else:
                assert (paper.title, paper.abstract, paper.date_text) == (
                    before.title,
                    before.abstract,
                    before.date_text,
                ), pid
