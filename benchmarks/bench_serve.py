"""Serving speed: the xinyu API against llama-cpp-python called directly, and against transformers.

Same GGUF (the embedded Gemma-3-270M), same prompts (persona + one user turn, rendered identically),
same greedy parameters, same run:

(a) one stream at a time: tokens/s and time to first token (TTFT) through ``xinyu serve`` (a separate
    process; the official ``openai`` client streaming) vs ``Llama.create_completion`` in this process;
    targets: ≤ 5 % fewer tokens/s, ≤ 50 ms more TTFT;
(b) transformers ``generate`` (through TransformersBackend, fp32 on CPU) on the same model: the ratio;
(c) N concurrent clients for D seconds against the API: requests completed, p50/p99 TTFT (queueing
    included: the llama.cpp backend serialises), aggregate tokens/s, errors.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_serve.py            # full run (~4 minutes on 2 cores)
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_serve.py --quick    # smoke run

Tokens/s is completion tokens over the wall time of the request (end to end, TTFT included).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = [
    "最近工作压力很大，晚上总是睡不着，脑子里一直在想白天的事情，我该怎么办？",
    "我和父母总是因为找工作的事吵架，他们不理解我，我觉得很委屈。",
    "考试没考好，我觉得自己特别没用，同学们好像都比我强。",
    "刚和交往三年的男朋友分手，每天都很难过，什么都不想做。",
    "新到一个城市工作，一个朋友也没有，下班后总觉得特别孤单。",
]


# llama-cpp-python sampling settings for plain greedy decoding (the same for every direct call).
GREEDY = {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0,
          "stop": ["<end_of_turn>"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def messages_for(prompt: str) -> list[dict[str, str]]:
    """What a client sends: the persona and one user turn."""
    from xinyu.serve.persona import DEFAULT_PERSONA

    return [{"role": "system", "content": DEFAULT_PERSONA}, {"role": "user", "content": prompt}]


def model_messages_for(prompt: str) -> list[dict[str, str]]:
    """What the model sees behind the API: the safety policy may add its preamble to the system prompt.

    The direct llama.cpp baseline gets exactly this prompt, so both paths generate the same tokens.
    """
    from xinyu.safety.crisis import assess
    from xinyu.safety.policy import SafetyPolicy

    messages = messages_for(prompt)
    decision = SafetyPolicy().decide(assess(prompt, []))
    if decision.action == "template":
        raise SystemExit(f"benchmark prompt gets a template reply (no model call); replace it: {prompt}")
    if decision.action == "generate_with_preamble" and decision.system_preamble:
        messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{decision.system_preamble}"}
    return messages


# -- (a) direct llama-cpp-python ---------------------------------------------------------------------
def direct_request(llm, prompt: str, max_tokens: int) -> dict:
    from xinyu.models.templates import GEMMA_TEMPLATE, render

    text = render(GEMMA_TEMPLATE, model_messages_for(prompt))
    start = time.perf_counter()
    first = None
    for chunk in llm.create_completion(
        text,
        max_tokens=max_tokens,
        **GREEDY,
        stream=True,
    ):
        if chunk["choices"][0]["text"] and first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return {"ttft": (first or end) - start, "seconds": end - start}


def direct_token_counts(gguf: Path, max_tokens: int, threads: int) -> list[int]:
    """Exact completion token counts for each prompt (greedy, so identical every run)."""
    from llama_cpp import Llama

    from xinyu.models.templates import GEMMA_TEMPLATE, render

    llm = Llama(model_path=str(gguf), n_ctx=4096, n_threads=threads, verbose=False)
    counts = []
    for prompt in PROMPTS:
        out = llm.create_completion(
            render(GEMMA_TEMPLATE, model_messages_for(prompt)),
            max_tokens=max_tokens,
            **GREEDY,
        )
        counts.append(out["usage"]["completion_tokens"])
    llm.close()
    return counts


# -- the xinyu API ------------------------------------------------------------------------------------
class Server:
    def __init__(self, threads: int, max_tokens: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/v1"
        cmd = [
            sys.executable,
            "-m",
            "xinyu",
            "serve",
            "--model",
            "gemma-3-270m",
            "--backend",
            "llama",
            "--port",
            str(self.port),
            "--n-threads",
            str(threads),
            "--preset",
            "greedy",
            "--max-new-tokens",
            str(max_tokens),
            "--rate-limit",
            "0",
            "--no-ui",
            "--log-level",
            "info",
            "--store",
            f"sqlite:///{Path(os.environ.get('TMPDIR', '/tmp')) / f'bench-{self.port}.db'}",
        ]
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-serve-{self.port}.log"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        import httpx

        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("xinyu serve exited during startup")
            time.sleep(0.3)
        raise RuntimeError("xinyu serve did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def api_request(client, prompt: str, max_tokens: int) -> dict:
    start = time.perf_counter()
    first = None
    usage = None
    stream = client.chat.completions.create(
        model="gemma-3-270m",
        messages=messages_for(prompt),
        stream=True,
        temperature=0.0,
        top_p=1.0,
        max_tokens=max_tokens,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
        if chunk.usage is not None:
            usage = chunk.usage
    end = time.perf_counter()
    return {
        "ttft": (first or end) - start,
        "seconds": end - start,
        "tokens": usage.completion_tokens if usage else 0,
    }


def bench_single(
    gguf: Path, server: Server, max_tokens: int, repeats: int, threads: int, tokens: list[int]
) -> tuple[list[dict], list[dict]]:
    """Direct and API requests interleaved prompt by prompt, so both see the same machine load."""
    import openai
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=4096, n_threads=threads, verbose=False)
    client = openai.OpenAI(base_url=server.base, api_key="bench", max_retries=0, timeout=300)
    direct, api = [], []
    for rep in range(repeats + 1):  # round 0 warms up
        for i, prompt in enumerate(PROMPTS):
            first, second = (direct_request, api_request) if (rep + i) % 2 else (api_request, direct_request)
            a = first(llm if first is direct_request else client, prompt, max_tokens)
            b = second(llm if second is direct_request else client, prompt, max_tokens)
            d, r = (a, b) if first is direct_request else (b, a)
            if rep:
                direct.append({**d, "tokens": tokens[i]})
                api.append(r)
    llm.close()
    return direct, api


def bench_api_concurrent(server: Server, max_tokens: int, clients: int, duration: float) -> dict:
    import openai

    done: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker(index: int) -> None:
        client = openai.OpenAI(base_url=server.base, api_key="bench", max_retries=0, timeout=600)
        i = index
        while time.perf_counter() < stop_at:
            try:
                result = api_request(client, PROMPTS[i % len(PROMPTS)], max_tokens)
                with lock:
                    done.append(result)
            except Exception as exc:  # a benchmark counts errors rather than stopping
                with lock:
                    errors.append(type(exc).__name__)
            i += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ttfts = [r["ttft"] for r in done]
    return {
        "clients": clients,
        "seconds": elapsed,
        "completed": len(done),
        "errors": len(errors),
        "p50_ttft": percentile(ttfts, 0.5),
        "p99_ttft": percentile(ttfts, 0.99),
        "tokens_per_s": sum(r["tokens"] for r in done) / elapsed,
    }


# -- stack overhead with an instant backend ---------------------------------------------------------
class InstantBackend:
    """Yields a fixed reply at once: isolates the cost of xinyu's layers from the model's."""

    name = "instant"
    max_concurrency = 1

    def __init__(self, pieces: int) -> None:
        self.pieces = ["好"] * pieces
        self.last_stats = None

    def stream(self, messages, params):
        from xinyu.serve.backends import StreamStats

        yield from self.pieces
        self.last_stats = StreamStats(prompt_tokens=1, completion_tokens=len(self.pieces))

    def info(self):
        return {"kind": "instant"}


def bench_overhead(pieces: int, requests: int) -> dict:
    """Per-request and per-token time the API adds (safety, store-free completions, SSE), in process."""
    import httpx
    import uvicorn

    from xinyu.serve.api import create_app
    from xinyu.serve.conversation import Counselor
    from xinyu.serve.settings import ServeSettings
    from xinyu.serve.store import Store

    store = Store(f"sqlite:///{Path(os.environ.get('TMPDIR', '/tmp')) / f'bench-overhead-{os.getpid()}.db'}")
    app = create_app(
        Counselor(InstantBackend(pieces)), ServeSettings(ui=False, rate_limit_per_minute=0), store
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    ttfts, totals = [], []
    body = {"model": "instant", "messages": messages_for(PROMPTS[0]), "stream": True}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for i in range(requests + 3):
            start = time.perf_counter()
            first = None
            with client.stream("POST", "/v1/chat/completions", json=body) as resp:
                for line in resp.iter_lines():
                    if first is None and '"content": "' in line and '"content": ""' not in line:
                        first = time.perf_counter()
            end = time.perf_counter()
            if i >= 3:
                ttfts.append((first or end) - start)
                totals.append(end - start)
    server.should_exit = True
    thread.join(timeout=10)
    per_token = [(t - f) / max(1, pieces - 1) for t, f in zip(totals, ttfts, strict=True)]
    return {
        "ttft_ms": 1000 * statistics.median(ttfts),
        "per_token_us": 1e6 * statistics.median(per_token),
        "requests": requests,
        "pieces": pieces,
    }


# -- (b) transformers ---------------------------------------------------------------------------------
def bench_transformers(max_tokens: int, repeats: int, threads: int) -> list[dict]:
    import torch

    from xinyu.serve.backends import GenerationParams, open_stream
    from xinyu.serve.backends_hf import TransformersBackend

    torch.set_num_threads(threads)  # the same CPU threads as llama.cpp

    backend = TransformersBackend("gemma-3-270m")
    params = GenerationParams(temperature=0.0, top_p=1.0, max_new_tokens=max_tokens)
    results = []
    for rep in range(repeats + 1):
        for prompt in PROMPTS:
            start = time.perf_counter()
            first = None
            stream, stats = open_stream(backend, model_messages_for(prompt), params)
            for piece in stream:
                if piece and first is None:
                    first = time.perf_counter()
            end = time.perf_counter()
            if rep:
                results.append(
                    {
                        "ttft": (first or end) - start,
                        "seconds": end - start,
                        "tokens": stats.completion_tokens,
                    }
                )
    return results


def summarize(rows: list[dict]) -> dict:
    total_tokens = sum(r["tokens"] for r in rows)
    total_seconds = sum(r["seconds"] for r in rows)
    return {
        "tokens_per_s": total_tokens / total_seconds,
        "ttft_ms": 1000 * statistics.median(r["ttft"] for r in rows),
        "tokens": total_tokens,
        "requests": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--repeats", type=int, default=2, help="measured rounds over the prompts (after 1 warm-up)"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for llama.cpp and torch (default: xinyu's llama.cpp default); "
        "use 1 on a machine shared with other jobs, where spinning threads contend",
    )
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.max_tokens, args.repeats, args.duration, args.clients = 32, 1, 10.0, 4

    from rich.console import Console
    from rich.table import Table

    from xinyu.models import embedded_gguf
    from xinyu.serve.backends_llama import default_threads

    threads = args.threads or default_threads()
    gguf = embedded_gguf()
    console = Console(width=150)
    console.print(
        f"GGUF {gguf.name}, {threads} llama.cpp threads, max {args.max_tokens} new tokens, greedy, "
        f"{len(PROMPTS)} prompts × {args.repeats} rounds"
    )

    load_before = os.getloadavg()[0]
    tokens = direct_token_counts(gguf, args.max_tokens, threads)
    server = Server(threads, args.max_tokens)
    try:
        direct_rows, api_rows = bench_single(gguf, server, args.max_tokens, args.repeats, threads, tokens)
        direct, api = summarize(direct_rows), summarize(api_rows)
        concurrent = bench_api_concurrent(server, args.max_tokens, args.clients, args.duration)
    finally:
        server.stop()
        console.print(f"server log: {server.log_path}")
    overhead_only = bench_overhead(args.max_tokens, 30)
    hf = (
        None
        if args.skip_transformers
        else summarize(bench_transformers(args.max_tokens, args.repeats, threads))
    )

    table = Table(title="xinyu serving benchmark (same GGUF, prompts and greedy parameters)")
    for col in ("path", "tokens/s", "TTFT median (ms)", "tokens", "requests", "vs llama.cpp direct"):
        table.add_column(col, justify="right" if col != "path" else "left")
    table.add_row(
        "llama-cpp-python direct",
        f"{direct['tokens_per_s']:.1f}",
        f"{direct['ttft_ms']:.0f}",
        str(direct["tokens"]),
        str(direct["requests"]),
        "baseline",
    )
    overhead = 100 * (1 - api["tokens_per_s"] / direct["tokens_per_s"])
    table.add_row(
        "xinyu API (stream, 1 client)",
        f"{api['tokens_per_s']:.1f}",
        f"{api['ttft_ms']:.0f}",
        str(api["tokens"]),
        str(api["requests"]),
        f"{-overhead:+.1f}% tok/s, {api['ttft_ms'] - direct['ttft_ms']:+.0f} ms TTFT",
    )
    if hf is not None:
        table.add_row(
            "transformers generate (fp32)",
            f"{hf['tokens_per_s']:.1f}",
            f"{hf['ttft_ms']:.0f}",
            str(hf["tokens"]),
            str(hf["requests"]),
            f"API is {api['tokens_per_s'] / hf['tokens_per_s']:.1f}× faster",
        )
    console.print(table)
    conc = Table(
        title=f"{concurrent['clients']} concurrent clients for {args.duration:.0f} s against the xinyu API"
    )
    for col in ("completed", "errors", "p50 TTFT (s)", "p99 TTFT (s)", "aggregate tokens/s"):
        conc.add_column(col, justify="right")
    conc.add_row(
        str(concurrent["completed"]),
        str(concurrent["errors"]),
        f"{concurrent['p50_ttft']:.2f}",
        f"{concurrent['p99_ttft']:.2f}",
        f"{concurrent['tokens_per_s']:.1f}",
    )
    console.print(conc)
    per_token_ms = 1000 / direct["tokens_per_s"]
    console.print(
        f"xinyu stack alone (instant backend, {overhead_only['requests']} requests of {overhead_only['pieces']} pieces, "
        f"in process): {overhead_only['ttft_ms']:.1f} ms before the first token (safety assessment, routing, SSE), "
        f"{overhead_only['per_token_us']:.0f} µs per token = "
        f"{100 * overhead_only['per_token_us'] / 1000 / per_token_ms:.1f}% of llama.cpp's {per_token_ms:.0f} ms per token here"
    )
    console.print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    verdict = "met" if overhead <= 5 and api["ttft_ms"] - direct["ttft_ms"] <= 50 else "NOT met"
    console.print(f"overhead target (≤5% tokens/s, ≤50 ms TTFT): {verdict}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "direct": direct,
                    "api": api,
                    "transformers": hf,
                    "concurrent": concurrent,
                    "stack_overhead": overhead_only,
                },
                indent=2,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
