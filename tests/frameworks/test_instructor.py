"""instructor on a patched OpenAI client: tool mode, JSON mode, markdown-JSON mode, iterables
and partial streams, each answer validated into the response model."""

from __future__ import annotations

import openai
import pydantic
import pytest

import whyops

from .support import require, run_as_agent

instructor = require("instructor")

TEXT = "Jason is 25 years old."


class User(pydantic.BaseModel):
    name: str
    age: int


def client_for(sdk: whyops.WhyOps, mode: object) -> object:
    return instructor.from_openai(sdk.openai(openai.OpenAI()), mode=mode)


def extract(client: object, **kwargs: object) -> object:
    return client.chat.completions.create(  # type: ignore[attr-defined]
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Extract the user: {TEXT}"}],
        max_retries=0,
        **kwargs,
    )


@pytest.mark.parametrize("mode", ["TOOLS", "JSON", "MD_JSON", "JSON_SCHEMA"])
def test_response_model(mode, sdk, recorded):
    client = client_for(sdk, getattr(instructor.Mode, mode))
    run = run_as_agent("extractor", lambda: extract(client, response_model=User))
    assert isinstance(run.answer, User) and run.answer.age == 25
    recorded.check(run, count=1, tools=["User"] if mode == "TOOLS" else [])


@pytest.mark.parametrize("stream", [False, True])
def test_iterable(stream, sdk, recorded):
    client = client_for(sdk, instructor.Mode.TOOLS)

    def work() -> list[User]:
        create = client.chat.completions.create_iterable  # type: ignore[attr-defined]
        return list(
            create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"Extract every user: {TEXT}"}],
                response_model=User,
                max_retries=0,
                stream=stream,
            )
        )

    run = run_as_agent("extractor", work)
    assert [user.age for user in run.answer] == [25]
    recorded.check(run, count=1, tools=["IterableUser"])


@pytest.mark.parametrize("mode", ["TOOLS", "JSON"])
def test_partial_stream(mode, sdk, recorded):
    client = client_for(sdk, getattr(instructor.Mode, mode))

    def work() -> list[object]:
        create = client.chat.completions.create_partial  # type: ignore[attr-defined]
        return list(
            create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"Extract the user: {TEXT}"}],
                response_model=User,
                max_retries=0,
            )
        )

    run = run_as_agent("extractor", work)
    assert len(run.answer) > 1  # partial objects as the stream fills them in
    assert User.model_validate(run.answer[-1].model_dump()).age == 25
    recorded.check(run, count=1, tools=["PartialUser"] if mode == "TOOLS" else [])
