"""The assistant's persona, end commands and closing message: the one place their text lives.

Every front end (terminal, API, web page) and the Python API read these defaults; pass other values to
:class:`~xinyu.serve.conversation.Counselor` (or ``--persona-file`` on the command line) to change them.
"""

from __future__ import annotations

from pathlib import Path

# Honest about what it is: an AI assistant, not a human, not a doctor or licensed counselor.
DEFAULT_PERSONA = (
    "你是“心语”，一个中文心理支持AI助手。你以温暖、尊重、不评判的态度倾听对方，"
    "帮助对方梳理感受和想法，给出具体、可行的小建议，并多用开放式提问。"
    "你是AI，不是人类，也不是医生或持证心理咨询师：你不做诊断，不推荐或调整药物，不能替代专业治疗。"
    "被问到身份时，如实说明你是AI助手。"
    "当对方提到自杀、自伤或伤害他人的想法时，认真对待，表达关心，"
    "并鼓励对方尽快联系专业心理援助热线、医院或身边可信任的人。回答简洁，每次不超过三四句话。"
)

# The user types one of these (alone on a line) to end the session.
END_COMMANDS: tuple[str, ...] = ("结束对话", "结束咨询", "再见心语")

CLOSING_MESSAGE = (
    "谢谢你今天愿意和我聊这些。这次对话就到这里。"
    "如果之后又觉得难受，随时可以再来找我；如果情况紧急，请马上联系心理援助热线或身边可信任的人。保重。"
)

# Shown by every front end, so that nobody mistakes the assistant for a person or a clinician.
AI_NOTICE = (
    "你正在与AI助手交流，它不是医生或心理咨询师，不能提供诊断或治疗。"
    "如果你有伤害自己或他人的想法，请立即拨打心理援助热线 12356 或急救电话 120，或联系身边可信任的人。"
)


PERSONA_KEYWORD = "persona"


def resolve_system_prompt(value: str | None) -> str | None:
    """A recipe's system prompt: ``"persona"`` means :data:`DEFAULT_PERSONA` (what chat/serve send), else as given.

    Train, evaluate and serve with the same system prompt: a model fine-tuned without one copies an
    unfamiliar system prompt into its replies, and one trained with it expects it.
    """
    return DEFAULT_PERSONA if value == PERSONA_KEYWORD else value


def load_persona(path: str | Path | None) -> str:
    """The persona text from a UTF-8 file, or :data:`DEFAULT_PERSONA` when ``path`` is None."""
    if path is None:
        return DEFAULT_PERSONA
    from xinyu.io import read_text

    text = read_text(Path(path)).strip()
    if not text:
        from xinyu.errors import DataError

        raise DataError("the persona file is empty: expected the system prompt text", path=str(path))
    return text
