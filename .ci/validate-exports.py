#!/usr/bin/env python3
"""Validates the files `opl export --all` wrote against the runtimes' official schemas.

    .ci/validate-exports.py SHARED EXPORTS

SHARED is the folder holding runtime-formats/; EXPORTS holds claude/, codex/ and openai/, each
with one folder per agent. Exits 1 on the first file that fails, naming it and the reason.
"""
import json
import pathlib
import re
import sys
import tomllib

from jsonschema import Draft7Validator, Draft202012Validator

shared = pathlib.Path(sys.argv[1]) / "runtime-formats"
exports = pathlib.Path(sys.argv[2])


def load(path):
    return json.loads(path.read_text())


def validator(cls, path):
    schema = load(shared / path)
    cls.check_schema(schema)
    return cls(schema)


claude_settings = validator(Draft7Validator, "claude-code/claude-code-settings.schema.json")
claude_mcp = validator(Draft7Validator, "claude-code/mcp-json.derived.schema.json")
codex = validator(Draft7Validator, "codex-cli/config.schema.json")
openai_tool = validator(Draft202012Validator, "openai-responses-mcp-tool/mcp-tool.schema.json")
# The settings schema accepts anything after `mcp__`; the form opl writes is stricter.
MCP_RULE = re.compile(r"^mcp__[A-Za-z0-9_-]+__[A-Za-z0-9_.-]+$")

checked = 0


def check(v, doc, where):
    global checked
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        sys.exit(f"{where}: {'/'.join(map(str, e.path))}: {e.message}")
    checked += 1


for agent in sorted((exports / "claude").iterdir()):
    settings = load(agent / ".claude/settings.json")
    check(claude_settings, settings, agent / ".claude/settings.json")
    for kind in ("allow", "ask", "deny"):
        for rule in settings["permissions"][kind]:
            if not MCP_RULE.match(rule):
                sys.exit(f"{agent}/.claude/settings.json: {rule!r} is not an mcp__<server>__<tool> rule")
    check(claude_mcp, load(agent / ".mcp.json"), agent / ".mcp.json")
for agent in sorted((exports / "codex").iterdir()):
    path = agent / ".codex/config.toml"
    check(codex, tomllib.loads(path.read_text()), path)
for agent in sorted((exports / "openai").iterdir()):
    path = agent / "openai-responses.json"
    request = load(path)
    for i, tool in enumerate(request["tools"]):
        check(openai_tool, tool, f"{path} tools[{i}]")
    if len(request["metadata"]) > 16 or any(len(v) > 512 for v in request["metadata"].values()):
        sys.exit(f"{path}: metadata exceeds 16 keys of 512 characters")
print(f"{checked} exported documents match their runtime schemas")
