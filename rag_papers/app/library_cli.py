"""`rag-papers collections`, `papers` and `remove`: a researcher's library, printed.

The options are parsed in cli.py; the work is rag_papers.index.library's.
"""

from __future__ import annotations

import argparse
import json
import sys

from rag_papers.settings import Settings


def collections(args: argparse.Namespace, settings: Settings) -> int:
    from rag_papers.index.library import list_collections

    infos = list_collections(settings)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print('no collections yet — run "rag-papers ingest PATH [--collection NAME]"')
        return 0
    rows = [("", "collection", "papers", "chunks", "embedding model", "last ingest")]
    for i in infos:
        rows.append(
            (
                "*" if i.current else "",
                i.name,
                str(i.papers),
                str(i.chunks),
                i.embedding_model or "-",
                i.last_ingest or "-",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def papers(args: argparse.Namespace, settings: Settings) -> int:
    from rag_papers.index.library import paper_records

    papers = paper_records(settings, search=args.search)
    fmt = "jsonl" if args.json else args.format
    if fmt != "text":
        from rag_papers.app.export import format_papers

        sys.stdout.write(format_papers(papers, fmt))
        return 0
    for p in papers:
        date = p.published or p.date_text or "----"
        print(f"{p.paper_id:<24}  {date:<10}  {p.title}")
    print(f"{len(papers)} paper{'' if len(papers) == 1 else 's'}", file=sys.stderr)
    return 0


def remove(args: argparse.Namespace, settings: Settings) -> int:
    from rag_papers.index.library import remove_papers

    summary = remove_papers(list(args.paper_ids), settings)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.line())
    return 0
