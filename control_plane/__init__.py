"""Intent classification: compiled patterns with confidence, LLM validation only when unsure."""
