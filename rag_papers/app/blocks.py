"""The page's Gradio shell: the Blocks subclass whose launch() carries this app's look and
privacy defaults (fonts served by the page itself, no share link, no monitoring, Gradio's own
footer Settings hidden), and the adapter that moves the page's progress bar."""

from __future__ import annotations

from rag_papers import _offline  # noqa: F401  (analytics and hub look-ups off before gradio loads)

# isort: split

from typing import TYPE_CHECKING, Any

import gradio as gr

from rag_papers.app import render

if TYPE_CHECKING:
    from gradio.routes import App


def theme() -> gr.themes.Base:
    """Gradio's default look with fonts served by the page itself (never a font CDN).

    Gradio 6.31 ships the 600-weight Source Sans Pro and IBM Plex Mono files as tiny subsets
    (55-75 glyphs), so headings would mix fonts; the 400 and 700 files are complete.
    """
    return gr.themes.Default(
        primary_hue="indigo",
        font=[
            gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ],
        font_mono=[
            gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)),
            "ui-monospace",
            "monospace",
        ],
    )


class PapersApp(gr.Blocks):
    """gr.Blocks whose launch() has this app's look and privacy defaults (no share link,
    no monitoring endpoint, no MCP server, no run history), so tests and the CLI agree.
    Gradio's own footer "Settings" (theme, language, screen studio) is hidden: the page has
    its own Settings, and two of them confused readers."""

    def launch(self, *args: Any, **kwargs: Any) -> tuple[App, str, str]:
        kwargs["share"] = False
        for key, value in {
            "css": render.CSS,
            "head": render.HEAD,
            "theme": theme(),
            "enable_monitoring": False,
            "mcp_server": False,
            "run_history": False,
            "pwa": False,
            "ssr_mode": False,
            "show_error": False,
            "footer_links": ["api"],
        }.items():
            kwargs.setdefault(key, value)
        return super().launch(*args, **kwargs)


class PageProgress:
    """A ProgressCallback that moves the page's progress bar (gr.Progress)."""

    def __init__(self, progress: gr.Progress) -> None:
        self.progress = progress

    def __call__(self, phase: str, done: int = 0, total: int | None = None) -> None:
        if total:
            self.progress((done, total), desc=phase, unit="chunks")
        else:
            self.progress(None, desc=f"{phase}…")


__all__ = ["PageProgress", "PapersApp", "theme"]
