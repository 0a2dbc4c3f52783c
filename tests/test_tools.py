"""`/v1/tools` and `/v1/tools/call` through the official client: the calculator is exact and safe, the
python tool runs in the sandbox, bad calls come back as error messages, never as HTTP errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clients.client import AsyncRefereeClient, RefereeClient
from service.grading.calculator import CalculatorError, calculate


@pytest.fixture(scope="module")
def client(live_server: str) -> RefereeClient:
    return RefereeClient(live_server)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("123456789 * 987654321", str(123456789 * 987654321)),  # exact, no float rounding
        ("2^10 + 1", "1025"),
        ("1/3", "0.333333333333 (= 1/3)"),
        ("(1/3) * 3", "1"),
        ("7 // 2 + 10 % 3", "4"),
        ("2**5000 // 2**4999", "2"),
        ("round(2.5 * 1.1, 2)", "2.75"),
        ("sqrt(16)", "4"),
    ],
)
def test_calculator(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "round(1/3, 99999999)",
        "'a'.ljust(4000000000)",
        "(1).to_bytes(10**10, 'big')",
        "f'{1:>999999999}'",
        "10**3999 * 10**400",
        "1,234 + 1",
        "9**9**9",
        "10**100000",
        "1/0",
        "__import__('os').system('id')",
        "().__class__",
        "'a' * 10",
        "1e308 * 10",
        "(" * 400 + "1" + ")" * 400,
        "x" * 2000,
    ],
)
def test_calculator_refuses_without_computing(expression: str) -> None:
    with pytest.raises(CalculatorError):
        calculate(expression)


def test_tools_are_listed_as_function_definitions_usable_as_item_tools(client: RefereeClient) -> None:
    tools = client.tools()
    assert [tool["function"]["name"] for tool in tools] == ["python", "calculator"]
    completion = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "calculator", "arguments": {"expression": "6*7"}}}
            ],
        },
        {"role": "tool", "content": "42"},
    ]
    result = client.score([{"completion": completion, "tools": tools}], rewards={"tool_call_validity": 1.0})
    assert result.results[0].scores["tool_call_validity"] == 1.0


def test_calls_in_openai_and_hermes_form(client: RefereeClient) -> None:
    messages = client.call_tools(
        [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "calculator", "arguments": '{"expression": "123456*789"}'},
            },
            {
                "id": "c2",
                "type": "function",
                "function": {"name": "python", "arguments": {"code": "print(sum(range(10)))"}},
            },
            {
                "id": "c3",
                "type": "function",
                "function": {"name": "python", "arguments": {"code": "import sys; sys.exit('boom')"}},
            },
        ]
    )
    assert [m["tool_call_id"] for m in messages] == ["c1", "c2", "c3"]
    assert [m["role"] for m in messages] == ["tool"] * 3
    assert messages[0]["content"] == "97406784"
    assert messages[1]["content"] == "45\n(exit code 0)"
    assert "boom" in messages[2]["content"] and "(exit code 1)" in messages[2]["content"]
    hermes = client.call_tools(
        message={
            "role": "assistant",
            "content": '<think>t</think><tool_call>{"name": "calculator", '
            '"arguments": {"expression": "2^20"}}</tool_call>',
        }
    )
    assert hermes == [{"role": "tool", "tool_call_id": None, "name": "calculator", "content": "1048576"}]


def test_bad_calls_are_answered_with_errors(client: RefereeClient) -> None:
    messages = client.call_tools(
        [
            {"function": {"name": "calculator", "arguments": '{"expression": '}},
            {"function": {"name": "shell", "arguments": {"cmd": "ls"}}},
            {"function": {"name": "calculator", "arguments": {"expr": "1+1"}}},
            {"function": {"name": "calculator", "arguments": {"expression": "9**9**9"}}},
            "not a call",
        ]
    )
    contents = [m["content"] for m in messages]
    assert contents[0].startswith("error: arguments are not valid JSON")
    assert contents[1] == "error: unknown tool 'shell'"
    assert contents[2] == "error: 'expression' is a required property"
    assert contents[3] == "error: the result is too large"
    assert contents[4].startswith("error: a tool call is str")


def test_python_tool_is_sandboxed_and_limited(client: RefereeClient) -> None:
    network = (
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    print('connected')\nexcept OSError:\n    print('no network')"
    )
    forever = "while True: pass"
    flood = "print('x' * 10_000_000)"
    messages = client.call_tools(
        [{"function": {"name": "python", "arguments": {"code": code}}} for code in (network, forever, flood)],
        time_limit_s=2,
    )
    assert messages[0]["content"].startswith("no network")
    assert messages[1]["content"] == "(timeout)"
    assert len(messages[2]["content"]) < 5000 and "truncated" in messages[2]["content"]


def test_request_errors_name_the_field(live_server: str) -> None:
    for body, loc in (
        ({}, ["body"]),
        ({"tool_calls": [], "message": {"role": "assistant", "content": "x"}}, ["body"]),
        ({"tool_calls": [], "time_limit_s": 0}, ["body", "time_limit_s"]),
        ({"tool_calls": [], "backend": "vm"}, ["body", "backend"]),
    ):
        response = httpx.post(f"{live_server}/v1/tools/call", json=body, timeout=30)
        assert response.status_code == 422, response.text
        assert any(error["loc"][: len(loc)] == loc for error in response.json()["detail"])


def test_async_client(live_server: str) -> None:
    async def go() -> list[dict]:
        async with AsyncRefereeClient(live_server) as client:
            return await client.call_tools(
                [{"function": {"name": "calculator", "arguments": {"expression": "3*3"}}}]
            )

    assert asyncio.run(go())[0]["content"] == "9"
