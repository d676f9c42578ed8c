"""``xinyu chat``, ``xinyu serve``, ``xinyu webui`` and ``xinyu store ...`` (light imports only)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer

MODEL = typer.Option(
    "gemma-3-270m",
    "--model",
    "-m",
    help="Alias, .gguf file, run directory (runs/<name>), HF or adapter directory, or http(s)://host/v1.",
)
BACKEND = typer.Option("auto", "--backend", help="auto | llama | transformers | remote.")
ADAPTER = typer.Option(None, "--adapter", help="Extra LoRA adapter directory (transformers backend).")
DEVICE = typer.Option(None, "--device", help="cpu, cuda, cuda:1 ... (transformers backend).")
N_CTX = typer.Option(None, "--n-ctx", help="Context window in tokens (llama.cpp backend; default 4096).")
N_THREADS = typer.Option(None, "--n-threads", help="CPU threads (llama.cpp backend).")
CONCURRENCY = typer.Option(
    None, "--max-concurrency", help="Generations at once against a remote server (default 8; local models: 1)."
)
REMOTE_MODEL = typer.Option(
    None, "--remote-model", help="Model name on the remote server (default: its first)."
)
PRESET = typer.Option("default", "--preset", help="Generation preset: default | hearmeglm | greedy.")
TEMPERATURE = typer.Option(None, "--temperature", help="Sampling temperature (0 = greedy).")
TOP_P = typer.Option(None, "--top-p", help="Nucleus sampling threshold.")
MAX_NEW = typer.Option(None, "--max-new-tokens", help="Longest reply in tokens.")
REP = typer.Option(None, "--repetition-penalty", help="Repetition penalty (1.0 = off).")
PERSONA = typer.Option(
    None, "--persona-file", help="UTF-8 file with the system prompt (default: 心语 persona)."
)
TURNS = typer.Option(12, "--max-history-turns", help="Earlier exchanges kept in the model's context.")
TOKENS = typer.Option(2048, "--max-history-tokens", help="Token budget of the prompt (history is trimmed).")
STORE = typer.Option(
    None, "--store", help="SQLAlchemy URL of the session store (default $XINYU_HOME/xinyu.db)."
)

SESSION_FILE = typer.Option(
    None,
    "--session-file",
    help="Continue the chat saved in this Dialogue JSONL file and save each turn there.",
)
CHAT_STORE = typer.Option(
    None, "--store", help="Also keep the chat in this session store (SQLAlchemy URL; off by default)."
)
CHAT_LOG = typer.Option("warning", "--log-level", help="Logging level (logs never contain messages).")
HOST = typer.Option("127.0.0.1", "--host", help="Address to bind.")
API_PORT = typer.Option(8000, "--port", help="Port to bind.")
API_KEY = typer.Option(
    [], "--api-key", help="Accepted API key (repeatable; also XINYU_API_KEYS=k1,k2). None: open API."
)
SERVED_NAME = typer.Option(
    [], "--served-model-name", help="Name(s) clients use in 'model' (default: the model's name)."
)
RATE = typer.Option(60.0, "--rate-limit", help="Requests per minute per API key (0 = off).")
BURST = typer.Option(None, "--rate-burst", help="Burst size (default: the rate).")
MAX_BODY = typer.Option(1_000_000, "--max-body-bytes", help="Larger request bodies get 413.")
UI = typer.Option(True, "--ui/--no-ui", help="Mount the web page at /ui.")
CORS = typer.Option([], "--cors-origin", help="Browser origin allowed to call the API.")
SERVE_LOG = typer.Option("info", "--log-level", help="Logging level (logs never contain messages).")
UI_PORT = typer.Option(7860, "--port", help="Port to bind.")
UI_LOG = typer.Option("warning", "--log-level", help="Logging level (logs never contain messages).")
OLDER = typer.Option(..., "--older-than", help="Delete sessions idle for longer, e.g. 30d, 12h.")
OUTPUT = typer.Option(..., "--output", "-o", help="Preference pairs JSONL to write.")
PAIR_PERSONA = typer.Option(
    None, "--persona-file", help="Put this system prompt first in each pair's messages."
)
WITH_PERSONA = typer.Option(False, "--with-persona", help="Put the default persona first.")


def build_counselor(
    model: str,
    backend: str = "auto",
    adapter: str | None = None,
    device: str | None = None,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    remote_model: str | None = None,
    preset: str = "default",
    temperature: float | None = None,
    top_p: float | None = None,
    max_new_tokens: int | None = None,
    repetition_penalty: float | None = None,
    persona_file: Path | None = None,
    max_history_turns: int = 12,
    max_history_tokens: int = 2048,
    store: Any = None,
    max_concurrency: int | None = None,
) -> Any:
    """Load the backend and wrap it in a :class:`~xinyu.serve.conversation.Counselor`."""
    from rich.console import Console

    from xinyu.serve.backends import load_backend
    from xinyu.serve.backends import preset as get_preset
    from xinyu.serve.conversation import Counselor
    from xinyu.serve.persona import load_persona

    params = get_preset(preset).replace(
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
    )
    persona = load_persona(persona_file)
    with Console(stderr=True).status(f"loading {model} ..."):
        engine = load_backend(
            model,
            kind=backend,
            adapter=adapter,
            device=device,
            n_ctx=n_ctx,
            n_threads=n_threads,
            remote_model=remote_model,
            max_concurrency=max_concurrency,
        )
    return Counselor(
        engine,
        persona=persona,
        params=params,
        max_history_turns=max_history_turns,
        max_history_tokens=max_history_tokens,
        store=store,
    )


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` → a timedelta."""
    from xinyu.errors import XinyuError

    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not match:
        raise XinyuError(f"invalid duration '{text}': expected a number and a unit, e.g. 30d, 12h, 90m, 2w")
    value, unit = int(match.group(1)), match.group(2)
    return timedelta(
        **{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: value}
    )


def _setup_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    """Add the serving commands to the root app."""

    @app.command("chat")
    def chat(
        model: str = MODEL,
        backend: str = BACKEND,
        adapter: str | None = ADAPTER,
        device: str | None = DEVICE,
        n_ctx: int | None = N_CTX,
        n_threads: int | None = N_THREADS,
        remote_model: str | None = REMOTE_MODEL,
        preset: str = PRESET,
        temperature: float | None = TEMPERATURE,
        top_p: float | None = TOP_P,
        max_new_tokens: int | None = MAX_NEW,
        repetition_penalty: float | None = REP,
        persona_file: Path | None = PERSONA,
        max_history_turns: int = TURNS,
        max_history_tokens: int = TOKENS,
        session_file: Path | None = SESSION_FILE,
        store: str | None = CHAT_STORE,
        log_level: str = CHAT_LOG,
    ) -> None:
        """Chat with a counselor model in the terminal (streaming; /help lists commands)."""
        _setup_logging(log_level)
        from xinyu.serve.repl import Repl, load_session_file
        from xinyu.serve.store import Store

        the_store = Store(store) if store else None
        counselor = build_counselor(
            model,
            backend,
            adapter,
            device,
            n_ctx,
            n_threads,
            remote_model,
            preset,
            temperature,
            top_p,
            max_new_tokens,
            repetition_penalty,
            persona_file,
            max_history_turns,
            max_history_tokens,
            the_store,
        )
        session = None
        if session_file is not None and session_file.is_file():
            session = load_session_file(session_file)
            if the_store is not None:
                the_store.ensure_session(session.id, meta={"client": "terminal"})
                session.store = the_store
        Repl(counselor, session=session, session_file=session_file).run()

    @app.command("serve")
    def serve(
        model: str = MODEL,
        backend: str = BACKEND,
        adapter: str | None = ADAPTER,
        device: str | None = DEVICE,
        n_ctx: int | None = N_CTX,
        n_threads: int | None = N_THREADS,
        remote_model: str | None = REMOTE_MODEL,
        max_concurrency: int | None = CONCURRENCY,
        preset: str = PRESET,
        temperature: float | None = TEMPERATURE,
        top_p: float | None = TOP_P,
        max_new_tokens: int | None = MAX_NEW,
        repetition_penalty: float | None = REP,
        persona_file: Path | None = PERSONA,
        max_history_turns: int = TURNS,
        max_history_tokens: int = TOKENS,
        store: str | None = STORE,
        host: str = HOST,
        port: int = API_PORT,
        api_key: list[str] = API_KEY,
        served_model_name: list[str] = SERVED_NAME,
        rate_limit: float = RATE,
        rate_burst: int | None = BURST,
        max_body_bytes: int = MAX_BODY,
        ui: bool = UI,
        cors_origin: list[str] = CORS,
        log_level: str = SERVE_LOG,
    ) -> None:
        """Serve the OpenAI-compatible API (plus sessions, feedback and the web page at /ui)."""
        _setup_logging(log_level)
        import uvicorn

        from xinyu.serve.api import create_app
        from xinyu.serve.settings import ServeSettings
        from xinyu.serve.store import Store

        the_store = Store(store)
        counselor = build_counselor(
            model,
            backend,
            adapter,
            device,
            n_ctx,
            n_threads,
            remote_model,
            preset,
            temperature,
            top_p,
            max_new_tokens,
            repetition_penalty,
            persona_file,
            max_history_turns,
            max_history_tokens,
            the_store,
            max_concurrency,
        )
        settings = ServeSettings(
            api_keys=list(api_key),
            host=host,
            model_names=list(served_model_name),
            rate_limit_per_minute=rate_limit,
            rate_limit_burst=rate_burst,
            max_body_bytes=max_body_bytes,
            ui=ui,
            cors_origins=list(cors_origin),
        )
        app_ = create_app(counselor, settings, the_store)
        typer.echo(
            f"xinyu API on http://{host}:{port}/v1 (model: {', '.join(app_.state.xinyu.model_names)})",
            err=True,
        )
        uvicorn.run(app_, host=host, port=port, log_level=log_level.lower(), timeout_graceful_shutdown=5)

    @app.command("webui")
    def webui(
        model: str = MODEL,
        backend: str = BACKEND,
        adapter: str | None = ADAPTER,
        device: str | None = DEVICE,
        n_ctx: int | None = N_CTX,
        n_threads: int | None = N_THREADS,
        remote_model: str | None = REMOTE_MODEL,
        preset: str = PRESET,
        temperature: float | None = TEMPERATURE,
        top_p: float | None = TOP_P,
        max_new_tokens: int | None = MAX_NEW,
        repetition_penalty: float | None = REP,
        persona_file: Path | None = PERSONA,
        max_history_turns: int = TURNS,
        max_history_tokens: int = TOKENS,
        store: str | None = STORE,
        host: str = HOST,
        port: int = UI_PORT,
        log_level: str = UI_LOG,
    ) -> None:
        """Serve the web chat page on its own (it is also at /ui under `xinyu serve`)."""
        _setup_logging(log_level)
        import uvicorn

        from xinyu.serve.store import Store
        from xinyu.serve.webui import create_ui_app

        the_store = Store(store)
        counselor = build_counselor(
            model,
            backend,
            adapter,
            device,
            n_ctx,
            n_threads,
            remote_model,
            preset,
            temperature,
            top_p,
            max_new_tokens,
            repetition_penalty,
            persona_file,
            max_history_turns,
            max_history_tokens,
            the_store,
        )
        typer.echo(f"xinyu web page on http://{host}:{port}/", err=True)
        uvicorn.run(create_ui_app(counselor, the_store), host=host, port=port, log_level=log_level.lower())

    store_app = typer.Typer(no_args_is_help=True)
    app.add_typer(store_app, name="store", help="Session store: retention purge, feedback export, keys.")

    @store_app.command("purge")
    def purge(
        older_than: str = OLDER,
        store: str | None = STORE,
    ) -> None:
        """Delete sessions (with their messages and feedback) idle for longer than --older-than."""
        from xinyu.serve.store import Store

        counts = Store(store).purge(parse_duration(older_than))
        typer.echo(
            f"deleted {counts['sessions']} sessions, {counts['messages']} messages, "
            f"{counts['feedback']} feedback entries"
        )

    @store_app.command("export-feedback")
    def export(
        output: Path = OUTPUT,
        store: str | None = STORE,
        persona_file: Path | None = PAIR_PERSONA,
        with_persona: bool = WITH_PERSONA,
    ) -> None:
        """Export 👎 replies with a 👍 or regenerated alternative as preference pairs (for DPO)."""
        from xinyu.serve.feedback import export_feedback
        from xinyu.serve.persona import load_persona
        from xinyu.serve.store import Store

        system = load_persona(persona_file) if (persona_file or with_persona) else None
        count = export_feedback(Store(store), output, system=system)
        typer.echo(f"wrote {count} preference pairs to {output}")

    @store_app.command("keygen")
    def keygen() -> None:
        """Print a new key for XINYU_STORE_KEY (encryption at rest)."""
        from xinyu.serve.store import new_key

        typer.echo(new_key())
