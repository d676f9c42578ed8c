"""Request and response schemas of the HTTP API (pydantic), apart from the engine and the routes.

The ``/v1/chat/completions`` schemas follow the OpenAI protocol; fields OpenAI clients send that
xinyu does not use (``presence_penalty``, ``user``, ``logit_bias``...) are accepted and ignored, as
vLLM does. xinyu's additions are documented per field: ``top_k`` and ``repetition_penalty`` in
requests, and the ``xinyu`` object in responses (risk level, banner, correction), which OpenAI
clients ignore.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGE_CHARS = 8000


class ContentPart(BaseModel):
    """A part of a multi-part message; only text parts are supported."""

    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message (``developer`` is OpenAI's newer name for ``system``)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The content as plain text (text parts joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)

    def plain(self) -> dict[str, str]:
        """``{"role", "content"}`` with ``developer`` mapped to ``system``."""
        return {"role": "system" if self.role == "developer" else self.role, "content": self.text()}


class StreamOptions(BaseModel):
    """OpenAI ``stream_options``."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class SamplingFields(BaseModel):
    """Generation parameters a request may set (unset → the server's preset)."""

    model_config = ConfigDict(extra="allow")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, description="xinyu extension (vLLM has it too)")
    repetition_penalty: float | None = Field(default=None, gt=0.0, le=2.0, description="xinyu extension")
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    stop: str | list[str] | None = None
    seed: int | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        return stops

    def overrides(self) -> dict[str, Any]:
        """The fields set, named as :class:`~xinyu.serve.backends.GenerationParams` names them."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": self.stop,
            "seed": self.seed,
        }


class ChatCompletionRequest(SamplingFields):
    """``POST /v1/chat/completions``."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="only one choice per request")

    @field_validator("messages")
    @classmethod
    def _last_is_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "user":
            raise ValueError("the last message must be a user message (the turn to answer)")
        if not messages[-1].text().strip():
            raise ValueError("the last user message is empty")
        if any(len(m.text()) > MAX_MESSAGE_CHARS for m in messages):
            raise ValueError(f"a message is longer than {MAX_MESSAGE_CHARS} characters")
        return messages


class RiskInfo(BaseModel):
    """xinyu's safety result for a user turn (the ``xinyu`` field of responses)."""

    level: str = "none"
    imminent: bool = False
    categories: list[str] = []
    action: str = "generate"
    banner: str = ""
    resources: list[dict[str, str]] = []
    screened: bool = False
    violations: list[str] = []
    correction: str | None = Field(
        default=None, description="streaming only: the full corrected reply when the screen changed it"
    )


class Usage(BaseModel):
    """Token accounting."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    """The assistant message of a completion."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """One completion choice."""

    index: int = 0
    message: ResponseMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    """Response of a non-streaming chat completion."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    xinyu: RiskInfo


class ModelCard(BaseModel):
    """An entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "xinyu"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    """The OpenAI error shape's inner object."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """``{"error": {...}}``, as OpenAI answers errors."""

    error: ErrorBody


# -- sessions (xinyu extension) ----------------------------------------------------------------------
class SessionCreate(BaseModel):
    """``POST /v1/sessions``."""

    model_config = ConfigDict(extra="forbid")
    meta: dict[str, Any] = Field(default_factory=dict, description="free metadata kept with the session")


class SessionInfo(BaseModel):
    """A session."""

    id: str
    created_at: str
    updated_at: str
    ended: bool
    meta: dict[str, Any]
    n_messages: int


class StoredMessage(BaseModel):
    """A stored message (redacted)."""

    id: str
    role: str
    content: str
    created_at: str
    risk: dict[str, Any] | None = None
    screened: bool = False


class SessionMessageRequest(SamplingFields):
    """``POST /v1/sessions/{id}/messages``: the next user turn."""

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    stream: bool = False


class RegenerateRequest(SamplingFields):
    """``POST /v1/sessions/{id}/regenerate``: answer the last user turn again."""

    stream: bool = False


class SessionReply(BaseModel):
    """The assistant's reply to a session turn."""

    id: str = Field(description="assistant message id (rate it with POST /v1/feedback)")
    session_id: str
    user_message_id: str
    content: str
    ended: bool
    usage: Usage
    xinyu: RiskInfo


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: 👍 (1 or "up") / 👎 (-1 or "down") on an assistant message."""

    model_config = ConfigDict(extra="forbid")
    message_id: str
    rating: Literal[1, -1, "up", "down"]
    comment: str | None = Field(default=None, max_length=2000)

    def score(self) -> int:
        """The rating as +1/-1."""
        return {1: 1, -1: -1, "up": 1, "down": -1}[self.rating]


class FeedbackCreated(BaseModel):
    """Response of ``POST /v1/feedback``."""

    id: int
    message_id: str
    rating: int
