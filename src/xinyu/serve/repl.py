"""Terminal chat (``xinyu chat``): streaming replies, multi-line input, commands, graceful Ctrl-C.

Input: a line ending with a backslash continues on the next line; a line that is just three double
quotes opens a block that the next such line closes. Commands: ``/help``, ``/reset``, ``/save [file]``, ``/quit``; an end
command (``结束对话``...) ends the session with a closing message. Ctrl-C during a reply interrupts it
(the partial reply is kept); Ctrl-C at the prompt twice in a row, or Ctrl-D, exits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from xinyu.serve.conversation import Counselor, Session
from xinyu.serve.persona import AI_NOTICE

log = logging.getLogger(__name__)

HELP = """命令：
  /help          显示帮助
  /reset         清空对话历史，重新开始
  /save [文件]   把对话保存为 Dialogue JSONL（默认 --session-file 或 chat-<id>.jsonl）
  /quit          退出（也可以按 Ctrl-D，或在提示符下连按两次 Ctrl-C）
  {end}    结束本次对话
多行输入：行尾加 \\ 续行；或单独一行 \"\"\" 开始、再一行 \"\"\" 结束。
回复过程中按 Ctrl-C 可以中断生成。"""


def load_session_file(path: Path) -> Session:
    """Continue a conversation saved with ``/save`` (the first record of a Dialogue JSONL file)."""
    from xinyu.data.schema import dialogue_problems
    from xinyu.errors import DataError
    from xinyu.io import iter_jsonl

    for lineno, record in iter_jsonl(path):
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            raise DataError("expected a Dialogue object with a 'messages' list", path=path, line=lineno,
                            field="messages")
        # Lenient: a saved chat may end with a user turn that was interrupted.
        problems = [p for p in dialogue_problems(messages, strict=False) if not p.startswith("no user turn")]
        if problems:
            raise DataError("; ".join(problems), path=path, line=lineno, field="messages")
        history = [m for m in messages if m["role"] != "system"]
        return Session(id=record.get("id"), history=history, meta=record.get("meta") or {})
    raise DataError("the session file holds no dialogue", path=path)


class Repl:
    """The terminal chat loop.

    Args:
        counselor: The conversation engine.
        session: The session to continue (default: a new one).
        session_file: Where ``/save`` writes by default; the session is also saved there after each
            turn when given.
        console: Output console (default: stdout).
        read: Reads one line for a prompt (default: :func:`input`); raises ``EOFError`` at the end.
    """

    def __init__(
        self,
        counselor: Counselor,
        session: Session | None = None,
        session_file: Path | None = None,
        console: Console | None = None,
        read: Callable[[str], str] = input,
    ) -> None:
        self.counselor = counselor
        self.session = session or counselor.new_session()
        self.session_file = session_file
        self.console = console or Console(highlight=False)
        self.read = read

    # -- input -----------------------------------------------------------------------------------
    def read_message(self) -> str:
        """One user message, possibly over several lines (backslash continuation or a triple-quote block)."""
        first = self.read("你: ")
        if first.strip() == '"""':
            lines = []
            while True:
                line = self.read("... ")
                if line.strip() == '"""':
                    return "\n".join(lines)
                lines.append(line)
        lines = [first]
        while lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1]
            lines.append(self.read("... "))
        return "\n".join(lines)

    # -- commands --------------------------------------------------------------------------------
    def command(self, text: str) -> bool:
        """Run a ``/command``; return False when the loop should stop."""
        name, _, arg = text.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            self.console.print(HELP.format(end=" / ".join(self.counselor.end_commands)), markup=False)
        elif name == "/reset":
            self.session.reset()
            self.console.print("[dim]已清空对话历史。[/dim]")
        elif name == "/save":
            target = Path(arg.strip()) if arg.strip() else self.session_file or Path(f"chat-{self.session.id[:8]}.jsonl")
            self.session.save(target, persona=self.counselor.persona)
            self.console.print(f"[dim]已保存到 {target}[/dim]")
        else:
            self.console.print(f"未知命令 {name}，输入 /help 查看帮助。", markup=False)
        return True

    # -- one turn --------------------------------------------------------------------------------
    def turn(self, text: str) -> None:
        """Answer one message, streaming; Ctrl-C interrupts the reply."""
        stream = self.counselor.stream(text, self.session)
        if stream.banner:
            resources = "\n".join(
                f"  {r.get('name', '')}: {r.get('number', '')}" for r in (stream.decision.resources or [])
            )
            body = stream.banner + (f"\n{resources}" if resources else "")
            self.console.print(Panel(body, title="请注意", border_style="bold red"), markup=False)
        self.console.print("心语: ", end="", style="bold cyan")
        try:
            for piece in stream:
                self.console.print(piece, end="", markup=False, highlight=False)
        except KeyboardInterrupt:
            stream.close()
            self.console.print("\n[yellow][已中断][/yellow]")
        else:
            self.console.print()
            if stream.correction is not None:
                # The screen changed the streamed reply: show the version that counts.
                self.console.print("[yellow][回复已按安全规则修正][/yellow]")
                self.console.print("心语: ", end="", style="bold cyan")
                self.console.print(stream.correction, markup=False, highlight=False)
        if self.session_file is not None:
            self.session.save(self.session_file, persona=self.counselor.persona)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Chat until the session ends, ``/quit``, Ctrl-D, or Ctrl-C twice at the prompt."""
        self.console.print(Panel(AI_NOTICE, title="心语 xinyu", border_style="yellow"), markup=False)
        self.console.print("[dim]输入 /help 查看命令。[/dim]")
        interrupted = False
        while True:
            try:
                text = self.read_message()
            except EOFError:
                self.console.print()
                break
            except KeyboardInterrupt:
                if interrupted:
                    self.console.print()
                    break
                interrupted = True
                self.console.print("\n[dim]再按一次 Ctrl-C（或 Ctrl-D）退出。[/dim]")
                continue
            interrupted = False
            text = text.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not self.command(text):
                    break
                continue
            try:
                self.turn(text)
            except KeyboardInterrupt:  # Ctrl-C between the reply and the prompt: same as during it
                self.console.print("\n[yellow][已中断][/yellow]")
            if self.session.ended:
                break
