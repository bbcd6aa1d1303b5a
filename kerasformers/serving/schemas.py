"""Request bodies (OpenAI-compatible where OpenAI defines them). Strict types: a wrong type is a 400
naming the field, never a silent coercion; unknown extra fields (``user``, ...) are ignored."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = str
Stop = str | list[str] | None


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    model: str = Field(min_length=1)


class EmbeddingRequest(_Request):
    input: Text | list[Text]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


class _Sampling(_Request):
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    n: int = Field(1, ge=1, le=16)
    stream: bool = False
    stop: Stop = None
    seed: int | None = Field(None, ge=0, lt=2**31)


class CompletionRequest(_Sampling):
    prompt: Text | list[Text]


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)


class TaskRequest(_Request):
    """A text, or a list of the task's inputs (texts; [text_a, text_b] pairs; dicts with 'text')."""

    input: Text | list[Text | list[Text] | dict[str, Any]]
