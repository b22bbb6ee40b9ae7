"""Helpers the tests share (no tests here): loopback fakes of Slack and OpenAI, real pitcrew stacks, data builders."""
