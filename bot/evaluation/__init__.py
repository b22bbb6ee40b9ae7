"""Evaluating pitcrew on labelled conversations."""
