"""A process that takes free-form inputs and returns them: what a front end parsed from the
command text is recorded in the run, so tests can compare transports and parsers.

Every input has a default, so no command text makes the bot open a start form instead.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from engine import Context, process


class EchoInputs(BaseModel):
    target: str = Field(default="", description="any text")
    note: str | None = Field(default=None, description="more text; empty clears it")
    who: str | None = Field(default=None, description="a person (<@U...> arrives as the user id)")
    where: str | None = Field(default=None, description="a channel (<#C...> arrives as the channel id)")
    tags: list[str] = Field(default_factory=list, description="comma-separated words")
    dry_run: bool = Field(default=False, description="yes or no")


@process("echo-inputs", title="Echo inputs", inputs=EchoInputs, positional=["target", "note"])
async def echo_inputs(inputs: EchoInputs, ctx: Context) -> dict:
    """Return the inputs exactly as they were parsed."""
    return inputs.model_dump(mode="json")
