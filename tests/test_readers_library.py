"""Reference-manager readers on real-paper fixtures (see tests/fixtures/library/README.md)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag_papers.readers import READERS, read_paths
from rag_papers.readers.registry import detect

LIB = Path(__file__).resolve().parent / "fixtures" / "library"
EXTRA = LIB / "hf_2024_subset.json"


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).replace("–", "--").split())


@pytest.mark.parametrize(
    ("name", "kind", "papers", "missing"),
    [
        ("zotero.csv", "zotero_csv", 7, "Mixtral of Experts"),
        (
            "refs.bib",
            "bibtex",
            8,
            "MM1: Methods, Analysis & Insights from Multimodal LLM Pre-training",
        ),
        (
            "refs.ris",
            "ris",
            7,
            "The Hedgehog & the Porcupine: Expressive Linear Attentions with Softmax Mimicry",
        ),
        (
            "csl.json",
            "csl_json",
            7,
            "MVD$^2$: Efficient Multiview 3D Reconstruction for Multiview Diffusion",
        ),
    ],
)
def test_each_export_reads_its_papers_and_lists_the_one_without_abstract(
    name: str, kind: str, papers: int, missing: str
) -> None:
    path = LIB / name
    text = path.read_text(encoding="utf-8-sig")
    assert detect(path, text).kind == kind
    result = read_paths([path])
    assert len(result.papers) == papers
    assert result.skipped == 1
    assert len(result.no_abstract) == 1 and result.no_abstract[0].startswith(missing + " (")
    assert all(p.arxiv_id and p.abstract and p.authors for p in result.papers)
    assert all(p.url == f"https://arxiv.org/abs/{p.arxiv_id}" for p in result.papers)
    assert all(p.doi == f"10.48550/arXiv.{p.arxiv_id}" for p in result.papers)


def test_fields_match_the_source_papers() -> None:
    import json

    source = json.loads(EXTRA.read_text(encoding="utf-8"))
    bib = {p.arxiv_id: p for p in read_paths([LIB / "refs.bib"]).papers}
    zot = {p.arxiv_id: p for p in read_paths([LIB / "zotero.csv"]).papers}
    ris = {p.arxiv_id: p for p in read_paths([LIB / "refs.ris"]).papers}
    csl = {p.arxiv_id: p for p in read_paths([LIB / "csl.json"]).papers}
    # YOLOv9 is in the 2024 collection: the .bib (after LaTeX decoding) and .ris hold its text
    yolo = source["2402.13616"]
    for paper in (bib["2402.13616"], ris["2402.13616"]):
        assert norm(paper.title) == norm(yolo["title"])
        assert norm(paper.abstract) == norm(yolo["abstract"])
    # LaTeX: braces and escapes gone, accents decoded, math kept
    assert bib["2401.04081"].title.startswith("MoE-Mamba: Efficient")
    assert "Maciej Pióro" in bib["2401.04081"].authors
    assert "Piotr Miłoś" in bib["2401.04081"].authors
    assert bib["2009.08453"].title.startswith("MEAL V2: Boosting Vanilla ResNet-50 to 80%+")
    assert bib["2409.09143"].title.startswith("DomURLs_BERT:")
    assert bib["2402.14253"].title.startswith("MVD$^2$")
    assert bib["2402.14253"].venue == "SIGGRAPH Conference Proceedings (SIGGRAPH 2024)"
    assert bib["2402.04347"].categories == ["cs.LG"]
    # "Last, First" names become "First Last"; multi-word family names stay whole
    assert "Abdelkader El Mahdaouy" in zot["2409.09143"].authors
    assert "Abdelkader El Mahdaouy" in ris["2409.09143"].authors
    # dates: a full day where given, year-month kept as text (never a guessed day)
    assert zot["2401.04081"].published == "2024-01-08"
    assert ris["2401.04081"].published == "2024-01-08"
    assert csl["2401.04081"].published == "2024-01-08"
    for paper in (zot["2203.13366"], ris["2203.13366"], csl["2203.13366"], bib["2203.13366"]):
        assert (paper.published, paper.date_text) == (None, "2022-03")
    assert zot["2404.04125"].title.startswith('No "Zero-Shot" Without')
    assert ris["2402.14253"].venue == "SIGGRAPH Conference Proceedings (SIGGRAPH 2024)"
    assert csl["2009.08453"].venue == "arXiv preprint arXiv:2009.08453"


def test_all_exports_together_give_ten_papers_each_with_an_abstract() -> None:
    files = [LIB / n for n in ("zotero.csv", "refs.bib", "refs.ris", "csl.json")]
    files.append(LIB / "arxiv_api_response.xml")
    result = read_paths(files)
    assert result.entries == 33 and result.skipped == 4
    assert len(result.papers) == 10
    assert all(p.abstract for p in result.papers)
    assert result.no_abstract == []  # every paper missing an abstract somewhere has one elsewhere


def test_a_folder_reports_the_files_it_skipped_and_why(tmp_path: Path) -> None:
    (tmp_path / "refs.bib").write_text((LIB / "refs.bib").read_text(encoding="utf-8"))
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "notes.md").write_text("# reading notes\n")
    result = read_paths([tmp_path])
    assert len(result.papers) == 8
    assert len(result.skipped_files) == 2
    pdf, md = sorted(result.skipped_files, key=lambda s: ".md" in s)
    assert "paper.pdf" in pdf and "PDF full text is not read" in pdf
    assert "notes.md" in md and "unsupported .md file" in md


def test_the_table_claims_every_suffix_once_per_kind() -> None:
    kinds = [r.kind for r in READERS]
    assert len(kinds) == len(set(kinds))
    assert {"bibtex", "ris", "csl_json", "zotero_csv"} <= set(kinds)
    # a .bib parsed as CSV was the old failure: content decides when the suffix is ambiguous
    bib_text = (LIB / "refs.bib").read_text(encoding="utf-8")
    assert detect(Path("refs.txt"), bib_text).kind == "bibtex"
    assert detect(Path("export"), (LIB / "refs.ris").read_text(encoding="utf-8")).kind == "ris"
    assert detect(Path("x.json"), EXTRA.read_text(encoding="utf-8")).kind == "json"


def test_folder_ingest_summary_lists_skipped_files_and_papers_without_abstract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from rag_papers.app.cli import main

    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "refs.bib").write_text((LIB / "refs.bib").read_text(encoding="utf-8"))
    (folder / "paper.pdf").write_bytes(b"%PDF-1.4\n")
    code = main(["--home", str(tmp_path / "home"), "ingest", str(folder), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["read"], summary["new"], summary["skipped"]) == (8, 8, 1)
    assert [s.split(":")[0] for s in summary["skipped_files"]] == [str(folder / "paper.pdf")]
    assert summary["no_abstract"] == [
        f"MM1: Methods, Analysis & Insights from Multimodal LLM Pre-training ({folder / 'refs.bib'}:114)"
    ]
    # the plain summary says the same in words
    code = main(["--home", str(tmp_path / "home"), "ingest", str(folder)])
    out, err = capsys.readouterr()
    assert "8 unchanged, 1 skipped (1 without abstract); 1 file skipped" in out
    assert "1 entry has no abstract and was not indexed" in out and "MM1" in out
    assert "skipped file:" in err and "paper.pdf" in err


def test_an_entry_without_abstract_is_listed_only_while_the_collection_lacks_its_paper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """refs.ris has Hedgehog without an abstract; refs.bib has it with one. Read together
    nothing is missing; read in two ingests the second must not say Hedgehog was lost."""
    import json

    from rag_papers.app.cli import main

    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "ingest", str(LIB / "refs.ris"), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [t.split(" (")[0] for t in first["no_abstract"]] == [
        "The Hedgehog & the Porcupine: Expressive Linear Attentions with Softmax Mimicry"
    ]
    assert any("has no abstract — skipped; add an AB  - line" in w for w in first["warnings"])
    assert main([*home, "ingest", str(LIB / "refs.bib"), "--json"]) == 0  # Hedgehog arrives
    capsys.readouterr()
    assert main([*home, "ingest", str(LIB / "refs.ris")]) == 0  # and is not reported lost
    out = capsys.readouterr().out
    assert "(1 without abstract but already indexed)" in out
    assert "no abstract and" not in out


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.ris", "", "file is empty"),
        ("notes.ris", "just some notes\n", "no RIS records (TY  - ... ER  - ) found"),
        ("junk.bib", "not bibtex\n", "no BibTeX entries (@article{key, ...}) found"),
        (
            "wrong.csv",
            'Name,Summary Text,Year\n"MoE-Mamba","State space models",2024\n',
            "CSV header has columns ['Name', 'Summary Text', 'Year'] but needs "
            '[\'title\', \'abstract\'] (columns "title" and "abstract" or "summary") '
            "— add or rename the header row",
        ),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    from rag_papers.app.cli import main

    bad = tmp_path / name
    bad.write_text(text, encoding="utf-8")
    assert main(["--home", str(tmp_path / "home"), "ingest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}:" in err and message in err


def test_a_bib_with_a_syntax_error_names_the_entry_and_indexes_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A closing brace missing from one entry: that entry is reported once, by key and
    line, in words (not bibtexparser's log lines); the file's other entries are indexed and
    the collection answers; removing an id it does not hold is refused with the fix."""
    import json

    from rag_papers.app.cli import main

    text = (LIB / "refs.bib").read_text(encoding="utf-8")
    start = text.index("@misc{zhang_hedgehog_2024")
    end = text.index("\n}\n", start)
    broken = tmp_path / "broken.bib"
    broken.write_text(text[:end] + "\n" + text[end + 3 :], encoding="utf-8")
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "ingest", str(broken)]) == 0
    out, err = capsys.readouterr()
    line = text[:start].count("\n") + 1
    warnings = [w for w in err.splitlines() if "zhang_hedgehog_2024" in w]
    written = broken.read_text(encoding="utf-8")
    at = written[: written.index("@inproceedings")].count("\n") + 1  # where the next one starts
    assert warnings == [
        f"warning: {broken}:{line}: BibTeX entry zhang_hedgehog_2024 cannot be parsed: "
        "Unexpected block start: `@inproceedings`. Was still looking for field-value closing "
        f"`,` or `}}` (at line {at}) — skipped; check its braces and commas"
    ]
    assert "bibtexparser" not in err
    assert out.startswith("read 7 papers: 7 new")

    assert main([*home, "remove", "arxiv:2402.04347"]) == 2  # the entry that was not read
    err = capsys.readouterr().err
    assert "none of arxiv:2402.04347 is in collection 'papers'" in err
    assert "`rag-papers papers --search TEXT` shows the ids" in err
    assert main([*home, "papers", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert main([*home, "ask", "What does MoE-Mamba combine?", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "arxiv:2401.04081" in {c["paper_id"] for c in answer["citations"]}
